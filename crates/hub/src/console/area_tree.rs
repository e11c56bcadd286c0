//! The area tree as nested checkboxes, for choosing targets (bulletins and
//! emergencies): the areas `GET /api/v1/areas` marks in the person's scope,
//! each under its parent.

use maud::{html, Markup};

use crate::api::handlers::areas::AreaView;

/// Nested checkboxes named `name` over the in-scope `areas`, each with
/// `data-test="{prefix}{code}"`; `checked` are ticked.
pub fn checkboxes(areas: &[AreaView], name: &str, prefix: &str, checked: &[&str]) -> Markup {
    let in_scope: Vec<&AreaView> = areas.iter().filter(|a| a.in_scope).collect();
    let is_root = |area: &&AreaView| {
        area.parent
            .as_ref()
            .is_none_or(|parent| !in_scope.iter().any(|a| &a.code == parent))
    };
    let roots: Vec<&AreaView> = in_scope.iter().copied().filter(is_root).collect();
    let tree = Tree {
        areas: &in_scope,
        name,
        prefix,
        checked,
    };
    html! { ul.tree.root { @for root in roots { (tree.node(root)) } } }
}

struct Tree<'a> {
    areas: &'a [&'a AreaView],
    name: &'a str,
    prefix: &'a str,
    checked: &'a [&'a str],
}

impl Tree<'_> {
    fn node(&self, area: &AreaView) -> Markup {
        let children = self
            .areas
            .iter()
            .filter(|a| a.parent.as_deref() == Some(area.code.as_str()));
        html! {
            li {
                label.check {
                    input type="checkbox" name=(self.name) value=(area.code)
                        checked[self.checked.contains(&area.code.as_str())]
                        data-test={ (self.prefix) (area.code) };
                    span { (area.name) " " small { "(" (area.code) ")" } }
                }
                ul.tree { @for child in children { (self.node(child)) } }
            }
        }
    }
}

/// The name of area `code`, or the code when it is unknown.
pub fn name_of<'a>(areas: &'a [AreaView], code: &'a str) -> &'a str {
    areas
        .iter()
        .find(|a| a.code == code)
        .map_or(code, |a| a.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn area(code: &str, parent: Option<&str>, in_scope: bool) -> AreaView {
        AreaView {
            code: code.into(),
            name: format!("Area {code}"),
            level: String::new(),
            parent: parent.map(Into::into),
            in_scope,
        }
    }

    #[test]
    fn only_areas_in_scope_get_a_checkbox_nested_under_their_parent() {
        let areas = vec![
            area("67", None, false),
            area("660", Some("67"), true),
            area("24611", Some("660"), true),
            area("661", Some("67"), false),
            area("24700", Some("661"), false),
        ];
        let html = checkboxes(&areas, "target", "target-", &["24611"]).into_string();
        assert!(html.contains(r#"data-test="target-660""#));
        assert!(html.contains(r#"data-test="target-24611""#));
        assert!(!html.contains("target-67\""));
        assert!(!html.contains("target-24700"));
        let district = html.find("target-660").unwrap();
        let commune = html.find("target-24611").unwrap();
        assert!(
            district < commune,
            "the commune is nested under its district"
        );
        assert!(html.contains(r#"value="24611" checked"#));
    }
}
