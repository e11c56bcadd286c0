//! Administrative areas: central → province → (district) → commune.
//!
//! Since July 2025 most provinces have no districts, so a commune's parent is
//! either a district or the province itself; both shapes are valid.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use crate::{AreaCode, CoreError};

/// Level of an area, and the issuing level of a bulletin. Ordered highest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AreaLevel {
    Central,
    Province,
    District,
    Commune,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    pub code: AreaCode,
    pub name: String,
    pub level: AreaLevel,
    /// `None` only for the central (national) root.
    pub parent: Option<AreaCode>,
}

/// A validated tree of areas with one central root.
#[derive(Clone, Debug)]
pub struct AreaTree {
    areas: BTreeMap<AreaCode, Area>,
    /// Every commune under (or equal to) each area, in code order.
    communes_under: HashMap<AreaCode, Vec<AreaCode>>,
}

impl AreaTree {
    /// Builds the tree, checking that codes are unique, there is exactly one
    /// central root and every parent exists one valid level up.
    pub fn new(areas: impl IntoIterator<Item = Area>) -> Result<Self, CoreError> {
        let mut by_code = BTreeMap::new();
        for area in areas {
            if area.name.trim().is_empty() {
                return Err(invalid(&area.code, "name must not be empty"));
            }
            if let Some(dup) = by_code.insert(area.code.clone(), area) {
                return Err(invalid(&dup.code, "code is used twice"));
            }
        }
        let roots: Vec<_> = by_code.values().filter(|a| a.parent.is_none()).collect();
        match roots.as_slice() {
            [root] if root.level == AreaLevel::Central => {}
            [root] => {
                return Err(invalid(
                    &root.code,
                    "only the central area may have no parent",
                ))
            }
            [] => {
                let any = by_code
                    .keys()
                    .next()
                    .cloned()
                    .unwrap_or_else(|| AreaCode::parse("VN").expect("VN is a valid area code"));
                return Err(invalid(&any, "the tree needs a central root"));
            }
            [_, second, ..] => return Err(invalid(&second.code, "a second area without a parent")),
        }
        for area in by_code.values() {
            let Some(parent_code) = &area.parent else {
                continue;
            };
            let parent = by_code.get(parent_code).ok_or_else(|| {
                invalid(&area.code, &format!("parent {parent_code} does not exist"))
            })?;
            let allowed = match area.level {
                AreaLevel::Central => false,
                AreaLevel::Province => parent.level == AreaLevel::Central,
                AreaLevel::District => parent.level == AreaLevel::Province,
                AreaLevel::Commune => {
                    matches!(parent.level, AreaLevel::Province | AreaLevel::District)
                }
            };
            if !allowed {
                return Err(invalid(
                    &area.code,
                    &format!(
                        "a {:?} cannot sit under the {:?} {parent_code}",
                        area.level, parent.level
                    ),
                ));
            }
        }

        let mut communes_under: HashMap<AreaCode, Vec<AreaCode>> = HashMap::new();
        for commune in by_code.values().filter(|a| a.level == AreaLevel::Commune) {
            let mut cursor = Some(&commune.code);
            while let Some(code) = cursor {
                communes_under
                    .entry(code.clone())
                    .or_default()
                    .push(commune.code.clone());
                cursor = by_code[code].parent.as_ref();
            }
        }
        Ok(Self {
            areas: by_code,
            communes_under,
        })
    }

    pub fn get(&self, code: &AreaCode) -> Option<&Area> {
        self.areas.get(code)
    }

    /// Looks an area up, with an error naming the code when it is unknown.
    pub fn require(&self, code: &AreaCode) -> Result<&Area, CoreError> {
        self.get(code)
            .ok_or_else(|| CoreError::UnknownArea(code.clone()))
    }

    pub fn areas(&self) -> impl Iterator<Item = &Area> {
        self.areas.values()
    }

    pub fn communes(&self) -> impl Iterator<Item = &Area> {
        self.areas
            .values()
            .filter(|a| a.level == AreaLevel::Commune)
    }

    /// The central root.
    pub fn root(&self) -> &Area {
        self.areas
            .values()
            .find(|a| a.parent.is_none())
            .expect("a validated tree has a root")
    }

    /// Every commune in `code`'s area (a commune yields itself), in code order.
    pub fn communes_under(&self, code: &AreaCode) -> &[AreaCode] {
        self.communes_under
            .get(code)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }

    /// Whether `code` is `ancestor` or lies anywhere below it.
    pub fn is_within(&self, code: &AreaCode, ancestor: &AreaCode) -> bool {
        let mut cursor = Some(code);
        while let Some(current) = cursor {
            if current == ancestor {
                return true;
            }
            cursor = self.areas.get(current).and_then(|a| a.parent.as_ref());
        }
        false
    }

    /// The chain of areas from `code` up to the root, `code` first.
    pub fn ancestry(&self, code: &AreaCode) -> Vec<&Area> {
        let mut chain = Vec::new();
        let mut cursor = self.areas.get(code);
        while let Some(area) = cursor {
            chain.push(area);
            cursor = area.parent.as_ref().and_then(|p| self.areas.get(p));
        }
        chain
    }
}

fn invalid(code: &AreaCode, reason: &str) -> CoreError {
    CoreError::InvalidArea {
        code: code.clone(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{area, code};

    #[test]
    fn communes_under_each_level() {
        let tree = crate::testkit::tree_three_tier();
        assert_eq!(tree.communes_under(&code("VN")).len(), 3);
        assert_eq!(tree.communes_under(&code("67")).len(), 3);
        assert_eq!(
            tree.communes_under(&code("660")),
            &[code("24611"), code("24612")]
        );
        assert_eq!(tree.communes_under(&code("24700")), &[code("24700")]);
        assert!(tree.is_within(&code("24611"), &code("67")));
        assert!(!tree.is_within(&code("24611"), &code("661")));
        let chain: Vec<_> = tree
            .ancestry(&code("24611"))
            .iter()
            .map(|a| a.code.to_string())
            .collect();
        assert_eq!(chain, ["24611", "660", "67", "VN"]);
    }

    #[test]
    fn two_tier_province_has_communes_directly_under_it() {
        let tree = AreaTree::new([
            area("VN", AreaLevel::Central, None),
            area("68", AreaLevel::Province, Some("VN")),
            area("25000", AreaLevel::Commune, Some("68")),
        ])
        .unwrap();
        assert_eq!(tree.communes_under(&code("68")), &[code("25000")]);
        assert_eq!(tree.root().code, code("VN"));
    }

    #[test]
    fn invalid_trees_are_refused_with_the_offending_code() {
        let err = AreaTree::new([
            area("VN", AreaLevel::Central, None),
            area("67", AreaLevel::Province, Some("VN")),
            area("24611", AreaLevel::Commune, Some("999")),
        ])
        .unwrap_err();
        assert_eq!(err.to_string(), "area 24611: parent 999 does not exist");

        let err = AreaTree::new([
            area("VN", AreaLevel::Central, None),
            area("660", AreaLevel::District, Some("VN")),
        ])
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("area 660: a District cannot sit under"),
            "{err}"
        );

        let err = AreaTree::new([
            area("VN", AreaLevel::Central, None),
            area("VN", AreaLevel::Central, None),
        ])
        .unwrap_err();
        assert!(err.to_string().contains("used twice"));

        let err = AreaTree::new([area("67", AreaLevel::Province, None)]).unwrap_err();
        assert!(err.to_string().contains("only the central area"), "{err}");
    }
}
