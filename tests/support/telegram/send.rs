//! sendMessage and sendDocument: the checks Telegram makes and the Message it answers.

use super::{Data, MAX_MESSAGE_CHARS, Sent, TelegramState, bad_request, bot_user, chat_object, reply};
use crate::peer::Refusal;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// The chat a message goes to, or the error Telegram gives for it.
fn target_chat(data: &Data, params: &Map<String, Value>) -> Result<Value, Refusal> {
    let chat_id = params.get("chat_id").cloned().unwrap_or(Value::Null);
    let key = match &chat_id {
        Value::String(s) if !s.is_empty() => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return Err(bad_request("chat_id is empty").into()),
    };
    if data.unknown_chats.contains(&key) || (!key.starts_with('@') && key.parse::<i64>().is_err()) {
        return Err(bad_request("chat not found").into());
    }
    Ok(chat_id)
}

/// The text's length as Telegram counts it, or the entity error it gives.
fn parsed_length(text: &str, parse_mode: Option<&str>) -> Result<usize, Refusal> {
    let cant_parse = |what: String| Refusal::from(bad_request(&format!("can't parse entities: {what}")));
    match parse_mode {
        None | Some("") | Some("Markdown") => Ok(text.chars().count()),
        Some("MarkdownV2") => {
            let mut escaped = false;
            for (offset, c) in text.char_indices() {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if ".!-+=#{}".contains(c) {
                    return Err(cant_parse(format!(
                        "Character '{c}' is reserved and must be escaped with the preceding '\\' (byte offset {offset})"
                    )));
                }
            }
            Ok(text.chars().count())
        }
        Some("HTML") => {
            const TAGS: [&str; 16] = [
                "b",
                "strong",
                "i",
                "em",
                "u",
                "ins",
                "s",
                "strike",
                "del",
                "a",
                "code",
                "pre",
                "span",
                "tg-spoiler",
                "blockquote",
                "tg-emoji",
            ];
            let mut open: Vec<String> = Vec::new();
            let mut visible = 0;
            let mut rest = text;
            while let Some(start) = rest.find('<') {
                visible += rest[..start].chars().count();
                let Some(end) = rest[start..].find('>') else {
                    return Err(cant_parse("Unclosed start tag".into()));
                };
                let tag = &rest[start + 1..start + end];
                let name: String = tag
                    .trim_start_matches('/')
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
                    .collect();
                if !TAGS.contains(&name.as_str()) {
                    return Err(cant_parse(format!("Unsupported start tag \"{name}\"")));
                }
                if tag.starts_with('/') {
                    if open.pop().as_deref() != Some(name.as_str()) {
                        return Err(cant_parse(format!("Unexpected end tag \"{name}\"")));
                    }
                } else {
                    open.push(name);
                }
                rest = &rest[start + end + 1..];
            }
            if let Some(tag) = open.last() {
                return Err(cant_parse(format!(
                    "Can't find end tag corresponding to start tag \"{tag}\""
                )));
            }
            Ok(visible + rest.chars().count())
        }
        Some(_) => Err(bad_request("unsupported parse_mode").into()),
    }
}

fn record_sent(data: &mut Data, method: &str, params: Map<String, Value>, chat_id: &Value, content: Value) -> Response {
    let mut message = json!({
        "message_id": data.next_message_id,
        "from": bot_user(),
        "chat": chat_object(chat_id),
        "date": chrono::Utc::now().timestamp(),
    });
    data.next_message_id += 1;
    if let (Some(message), Value::Object(content)) = (message.as_object_mut(), content) {
        message.extend(content);
    }
    data.sent.push(Sent {
        method: method.into(),
        params: Value::Object(params),
        message: message.clone(),
    });
    reply(message)
}

pub(super) fn send_message(state: &TelegramState, params: Map<String, Value>) -> Response {
    let mut data = state.data();
    let chat_id = match target_chat(&data, &params) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let text = params
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    if text.trim().is_empty() {
        return bad_request("message text is empty");
    }
    let length = match parsed_length(&text, params.get("parse_mode").and_then(Value::as_str)) {
        Ok(n) => n,
        Err(e) => return e.into_response(),
    };
    if length > MAX_MESSAGE_CHARS {
        return bad_request("message is too long");
    }
    record_sent(&mut data, "sendMessage", params, &chat_id, json!({"text": text}))
}

pub(super) fn send_document(state: &TelegramState, params: Map<String, Value>) -> Response {
    let mut data = state.data();
    let chat_id = match target_chat(&data, &params) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(document) = params.get("document").and_then(Value::as_str).map(str::to_string) else {
        return bad_request("there is no document in the request");
    };
    let is_url = document.starts_with("http://") || document.starts_with("https://");
    let is_file_id = !document.is_empty() && document.chars().all(|c| c.is_ascii_alphanumeric() || "-_".contains(c));
    if !is_url && !is_file_id {
        return bad_request("wrong HTTP URL specified");
    }
    let file_name = document.rsplit('/').next().unwrap_or("document").to_string();
    let mut content = json!({
        "document": {"file_name": file_name, "mime_type": "application/octet-stream", "file_id": format!("BQACAgIAAxk{}", data.next_message_id), "file_unique_id": format!("AgAD{}", data.next_message_id), "file_size": 1024},
    });
    if let Some(caption) = params.get("caption").and_then(Value::as_str) {
        content["caption"] = json!(caption);
    }
    record_sent(&mut data, "sendDocument", params, &chat_id, content)
}
