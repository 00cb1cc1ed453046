//! The checks Notion makes on page properties, blocks and rich text, with its
//! messages (<https://developers.notion.com/reference/request-limits#limits-for-property-values>).

use super::{Database, undefined, validation};
use crate::peer::Refusal;
use serde_json::{Map, Value};

/// Rich text: an array of at most 100 items, each text at most 2,000 characters.
fn check_rich_text(value: &Value, path: &str) -> Result<(), Refusal> {
    let Some(items) = value.as_array() else {
        return Err(validation(format!(
            "body failed validation: {path} should be an array, instead was `{value}`."
        )));
    };
    if items.len() > 100 {
        return Err(validation(format!(
            "body failed validation: {path}.length should be ≤ `100`, instead was `{}`.",
            items.len()
        )));
    }
    for (i, item) in items.iter().enumerate() {
        let Some(content) = item.pointer("/text/content").and_then(Value::as_str) else {
            return Err(undefined(&format!("{path}[{i}].text.content")));
        };
        let length = content.chars().count();
        if length > 2000 {
            return Err(validation(format!(
                "body failed validation: {path}[{i}].text.content.length should be ≤ `2000`, instead was `{length}`."
            )));
        }
    }
    Ok(())
}

/// Block types whose content is `{"rich_text": [...]}`.
const TEXT_BLOCKS: [&str; 10] = [
    "paragraph",
    "heading_1",
    "heading_2",
    "heading_3",
    "bulleted_list_item",
    "numbered_list_item",
    "to_do",
    "toggle",
    "quote",
    "callout",
];

/// Blocks to append or create: at most 100, each of a known type with its content.
pub(super) fn check_children(children: &Value, path: &str) -> Result<Vec<Value>, Refusal> {
    let Some(blocks) = children.as_array() else {
        return Err(validation(format!(
            "body failed validation: {path} should be an array, instead was `{children}`."
        )));
    };
    if blocks.len() > 100 {
        return Err(validation(format!(
            "body failed validation: {path}.length should be ≤ `100`, instead was `{}`.",
            blocks.len()
        )));
    }
    for (i, block) in blocks.iter().enumerate() {
        let Some(kind) = block.get("type").and_then(Value::as_str) else {
            return Err(undefined(&format!("{path}[{i}].type")));
        };
        if kind == "divider" {
            continue;
        }
        if !TEXT_BLOCKS.contains(&kind) && kind != "code" {
            return Err(validation(format!(
                "body failed validation: {path}[{i}].type should be a supported block type, instead was `\"{kind}\"`."
            )));
        }
        let Some(rich_text) = block.get(kind).and_then(|c| c.get("rich_text")) else {
            return Err(undefined(&format!("{path}[{i}].{kind}.rich_text")));
        };
        check_rich_text(rich_text, &format!("{path}[{i}].{kind}.rich_text"))?;
    }
    Ok(blocks.clone())
}

/// Properties must exist in the database and carry a value of their type.
pub(super) fn check_properties(db: &Database, properties: &Map<String, Value>) -> Result<(), Refusal> {
    for (name, value) in properties {
        let Some((_, kind)) = db.schema.iter().find(|(n, _)| n == name) else {
            return Err(validation(format!("{name} is not a property that exists.")));
        };
        let Some(inner) = value.get(kind) else {
            return Err(undefined(&format!("body.properties.{name}.{kind}")));
        };
        if kind == "title" || kind == "rich_text" {
            check_rich_text(inner, &format!("body.properties.{name}.{kind}"))?;
        }
    }
    Ok(())
}
