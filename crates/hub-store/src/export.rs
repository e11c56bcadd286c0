//! A deterministic, readable export of a store: one JSON line per record,
//! trees by name and keys in order, the stored value as it is. Two stores
//! hold the same state exactly when their exports are equal, which is how
//! a restored backup is compared with its origin.

use std::io::{self, Write};

use serde_json::value::RawValue;

use crate::store::RawRecord;

/// Writes `records` (as [`Store::snapshot`](crate::Store::snapshot) gives
/// them) one line each: `{"tree":…,"key":…,"value":…}`. A key that is not
/// UTF-8 (a delivery's, with its separator bytes, is) is written as
/// `hex:` and its bytes; a value that is not JSON, as a string of its hex.
pub fn write_export(records: &[RawRecord], out: &mut dyn Write) -> io::Result<()> {
    for record in records {
        let key = match std::str::from_utf8(&record.key) {
            Ok(text) if !text.starts_with("hex:") => text.to_owned(),
            _ => format!("hex:{}", hex(&record.key)),
        };
        let value: Box<RawValue> = std::str::from_utf8(&record.value)
            .ok()
            .and_then(|text| RawValue::from_string(text.to_owned()).ok())
            .unwrap_or_else(|| {
                let text = serde_json::to_string(&format!("hex:{}", hex(&record.value)))
                    .expect("a string always serialises");
                RawValue::from_string(text).expect("a JSON string is JSON")
            });
        let text = |s: &str| serde_json::to_string(s).expect("a string always serialises");
        writeln!(
            out,
            r#"{{"tree":{},"key":{},"value":{}}}"#,
            text(&record.tree),
            text(&key),
            value.get()
        )?;
    }
    Ok(())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(tree: &str, key: &[u8], value: &[u8]) -> RawRecord {
        RawRecord {
            tree: tree.into(),
            key: key.to_vec(),
            value: value.to_vec(),
        }
    }

    #[test]
    fn each_record_is_one_line_with_its_value_as_stored() {
        let records = [
            record("bulletins", b"b-1", br#"{"v":1,"record":{"z":1,"a":2}}"#),
            record("deliveries", b"dev\0b-1", br#"{"v":1}"#),
            record("meta", b"blob", &[0xff, 0x00]),
        ];
        let mut out = Vec::new();
        write_export(&records, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].contains(r#""value":{"v":1,"record":{"z":1,"a":2}}"#),
            "{}",
            lines[0]
        );
        assert!(lines[1].contains(r#""key":"dev\u0000b-1""#), "{}", lines[1]);
        assert!(lines[2].contains(r#""value":"hex:ff00""#), "{}", lines[2]);
    }
}
