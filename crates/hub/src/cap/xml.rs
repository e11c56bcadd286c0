//! A CAP document as a small element tree: quick-xml's pull parser with
//! namespaces resolved, text unescaped, and limits on depth and size, so the
//! validator walks a tree instead of a stream. Nothing from the document is
//! expanded (no DOCTYPE, so no entities beyond XML's five).

use quick_xml::events::{BytesStart, Event};
use quick_xml::name::ResolveResult;
use quick_xml::NsReader;

use super::CapError;

/// The CAP 1.2 namespace every element of an alert must be in.
pub const CAP_NS: &str = "urn:oasis:names:tc:emergency:cap:1.2";

/// Deepest nesting a CAP document needs is four (alert/info/area/geocode/value).
const MAX_DEPTH: usize = 8;
/// A generous bound on elements: a real alert has dozens.
const MAX_ELEMENTS: usize = 20_000;

/// One element: its local name, namespace, text and children in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub name: String,
    /// `None`: in no namespace.
    pub namespace: Option<String>,
    /// The element's own text (CDATA included), unescaped.
    pub text: String,
    pub children: Vec<Element>,
}

impl Element {
    pub fn in_cap(&self) -> bool {
        self.namespace.as_deref() == Some(CAP_NS)
    }
}

/// Reads a whole document into its root element.
pub fn parse(bytes: &[u8]) -> Result<Element, CapError> {
    let text = std::str::from_utf8(bytes).map_err(|e| CapError::Malformed {
        path: String::new(),
        message: format!("the document is not UTF-8: {e}"),
    })?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let path = |stack: &[Element]| {
        stack
            .iter()
            .map(|e| e.name.as_str())
            .collect::<Vec<_>>()
            .join("/")
    };
    loop {
        let malformed = |stack: &[Element], message: String| CapError::Malformed {
            path: path(stack),
            message,
        };
        let event = match reader.read_resolved_event() {
            Ok(event) => event,
            Err(e) => {
                let at = reader.error_position();
                return Err(malformed(&stack, format!("at byte {at}: {e}")));
            }
        };
        match event {
            (_, Event::Start(_) | Event::Empty(_)) if root.is_some() => {
                return Err(malformed(&stack, "content after the root element".into()));
            }
            (resolved, Event::Start(start)) => {
                count += 1;
                if count > MAX_ELEMENTS || stack.len() >= MAX_DEPTH {
                    return Err(malformed(
                        &stack,
                        format!(
                            "nested deeper than {MAX_DEPTH} or more than {MAX_ELEMENTS} elements"
                        ),
                    ));
                }
                stack.push(element(&resolved, &start, &stack, &path)?);
            }
            (resolved, Event::Empty(start)) => {
                count += 1;
                let empty = element(&resolved, &start, &stack, &path)?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(empty),
                    None => root = Some(empty),
                }
            }
            (_, Event::End(_)) => {
                // quick-xml checks that end names match their start.
                let done = stack
                    .pop()
                    .ok_or_else(|| malformed(&stack, "an end tag without its start".into()))?;
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => root = Some(done),
                }
            }
            (_, Event::Text(text)) => {
                let text = text
                    .unescape()
                    .map_err(|e| malformed(&stack, format!("bad text: {e}")))?;
                add_text(&mut stack, &text, &path)?;
            }
            (_, Event::CData(data)) => {
                let data = data.into_inner();
                let text = std::str::from_utf8(&data)
                    .map_err(|e| malformed(&stack, format!("bad CDATA: {e}")))?;
                add_text(&mut stack, text, &path)?;
            }
            (_, Event::DocType(_)) => {
                return Err(malformed(
                    &stack,
                    "a DOCTYPE is not allowed in a CAP document".into(),
                ))
            }
            (_, Event::Eof) => break,
            // The XML declaration, comments and processing instructions.
            _ => {}
        }
    }
    if !stack.is_empty() {
        return Err(CapError::Malformed {
            path: path(&stack),
            message: "the document ends inside an element".into(),
        });
    }
    root.ok_or_else(|| CapError::Malformed {
        path: String::new(),
        message: "the document has no root element".into(),
    })
}

fn element(
    resolved: &ResolveResult<'_>,
    start: &BytesStart<'_>,
    stack: &[Element],
    path: &dyn Fn(&[Element]) -> String,
) -> Result<Element, CapError> {
    let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
    let here = || {
        let parent = path(stack);
        if parent.is_empty() {
            name.clone()
        } else {
            format!("{parent}/{name}")
        }
    };
    let namespace = match resolved {
        ResolveResult::Bound(ns) => Some(String::from_utf8_lossy(ns.as_ref()).into_owned()),
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(prefix) => {
            return Err(CapError::Malformed {
                path: here(),
                message: format!(
                    "the namespace prefix {:?} is not declared",
                    String::from_utf8_lossy(prefix)
                ),
            })
        }
    };
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| CapError::Malformed {
            path: here(),
            message: format!("bad attribute: {e}"),
        })?;
        let key = attribute.key;
        let declares_namespace = key.as_namespace_binding().is_some() || key.as_ref() == b"xmlns";
        if !declares_namespace && namespace.as_deref() == Some(CAP_NS) {
            return Err(CapError::Invalid {
                path: here(),
                message: format!(
                    "CAP elements have no attributes; found {:?}",
                    String::from_utf8_lossy(key.as_ref())
                ),
            });
        }
    }
    Ok(Element {
        name,
        namespace,
        text: String::new(),
        children: Vec::new(),
    })
}

fn add_text(
    stack: &mut [Element],
    text: &str,
    path: &dyn Fn(&[Element]) -> String,
) -> Result<(), CapError> {
    if text.trim().is_empty() {
        return Ok(());
    }
    let where_ = path(stack);
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(text);
            Ok(())
        }
        None => Err(CapError::Malformed {
            path: where_,
            message: "text outside the root element".into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_text_and_cdata_are_read() {
        let root = parse(
            br#"<?xml version="1.0" encoding="UTF-8"?>
            <!-- a comment -->
            <cap:alert xmlns:cap="urn:oasis:names:tc:emergency:cap:1.2">
              <cap:identifier>a&amp;b</cap:identifier>
              <cap:note><![CDATA[<raw>]]></cap:note>
              <other xmlns="urn:example"/>
            </cap:alert>"#,
        )
        .unwrap();
        assert!(root.in_cap());
        assert_eq!(root.name, "alert");
        assert_eq!(root.children[0].text, "a&b");
        assert_eq!(root.children[1].text, "<raw>");
        assert_eq!(root.children[2].namespace.as_deref(), Some("urn:example"));
        assert!(!root.children[2].in_cap());
    }

    #[test]
    fn broken_documents_name_where_they_broke() {
        let err = parse(b"<alert><info></alert>").unwrap_err();
        assert!(matches!(err, CapError::Malformed { .. }), "{err}");
        let err = parse(b"<!DOCTYPE alert [<!ENTITY x \"y\">]><alert/>").unwrap_err();
        assert!(err.to_string().contains("DOCTYPE"), "{err}");
        let err = parse(b"<a:alert><a:b/></a:alert>").unwrap_err();
        assert!(err.to_string().contains("not declared"), "{err}");
        let err = parse(b"<alert/><alert/>").unwrap_err();
        assert!(err.to_string().contains("after the root"), "{err}");
        let deep = "<a>".repeat(20) + &"</a>".repeat(20);
        let err = parse(deep.as_bytes()).unwrap_err();
        assert!(err.to_string().contains("deeper"), "{err}");
        let err =
            parse(br#"<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2" id="1"/>"#).unwrap_err();
        assert_eq!(
            err,
            CapError::Invalid {
                path: "alert".into(),
                message: "CAP elements have no attributes; found \"id\"".into()
            }
        );
        assert!(parse(b"").is_err());
        assert!(parse(&[0xff, 0xfe]).is_err());
    }
}
