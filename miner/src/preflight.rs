//! Pre-flight: what the miner checks before it sends media. For now, that the bytes are a
//! media type validators accept and match the modality asked for (C2PA and decoding come with
//! the pre-flight issue). The Content-Type of the success webhook comes from here.

use gas_shared::Modality;

/// The mime type from magic bytes, as validators detect it.
pub fn content_type(head: &[u8]) -> Option<&'static str> {
    let at = |offset: usize, magic: &[u8]| head.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if at(0, b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("image/webp")
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some("image/gif")
    } else if at(4, b"ftypqt") {
        Some("video/quicktime")
    } else if at(4, b"ftyp") {
        Some("video/mp4")
    } else if at(0, b"\x1a\x45\xdf\xa3") {
        Some("video/webm")
    } else {
        None
    }
}

pub fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        _ => "mp4",
    }
}

/// Checks the first bytes of a result; `Err` says why it must not be sent.
pub fn check(head: &[u8], modality: Modality) -> Result<&'static str, String> {
    if head.is_empty() {
        return Err("the provider returned an empty file".into());
    }
    let Some(ct) = content_type(head) else {
        return Err(format!(
            "the provider returned bytes that are no known image or video format (starting {})",
            hex::encode(&head[..head.len().min(12)])
        ));
    };
    if !ct.starts_with(modality.as_str()) {
        return Err(format!(
            "a {modality} was asked for but the provider returned {ct}"
        ));
    }
    Ok(ct)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_name_the_type() {
        assert_eq!(content_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(content_type(b"\x00\x00\x00\x18ftypmp42"), Some("video/mp4"));
        assert_eq!(content_type(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(content_type(b"hello"), None);
    }

    #[test]
    fn wrong_modality_and_garbage_are_refused() {
        assert!(check(b"\x89PNG\r\n\x1a\n", Modality::Video).is_err());
        assert!(check(b"<html>", Modality::Image).is_err());
        assert!(check(b"", Modality::Image).is_err());
        assert_eq!(
            check(b"\xff\xd8\xff\xe0", Modality::Image),
            Ok("image/jpeg")
        );
    }
}
