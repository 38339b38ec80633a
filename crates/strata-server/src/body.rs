//! Reading a request body within the server's limits: `server.body_limit` (also after gzip
//! decoding, so a small bomb cannot expand past it), `server.body_timeout` for the whole body
//! (a client trickling one byte a second is cut off with 408), and `Content-Encoding`
//! `identity` or `gzip` only (415 otherwise).

use std::io::Read as _;
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use bytes::Bytes;
use http_body_util::{BodyExt as _, LengthLimitError, Limited};

use crate::error::ApiError;

/// The limits a body is read with.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimits {
    pub(crate) max_bytes: u64,
    pub(crate) timeout: Duration,
}

/// The body, read and decoded; `received` is set to the bytes that came over the wire.
pub(crate) async fn read(
    body: Body,
    headers: &HeaderMap,
    limits: BodyLimits,
    received: &mut u64,
) -> Result<Bytes, ApiError> {
    let gzip = match headers.get(header::CONTENT_ENCODING).map(|v| v.to_str().map(str::trim)) {
        None => false,
        Some(Ok(e)) if e.is_empty() || e.eq_ignore_ascii_case("identity") => false,
        Some(Ok(e)) if e.eq_ignore_ascii_case("gzip") => true,
        Some(Ok(e)) => {
            return Err(ApiError::UnsupportedEncoding(format!(
                "Content-Encoding {e:?} is not supported (identity or gzip)"
            )));
        }
        Some(Err(_)) => return Err(ApiError::UnsupportedEncoding("Content-Encoding is not ASCII".into())),
    };
    let too_large = ApiError::BodyTooLarge { limit: limits.max_bytes };
    if let Some(length) =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        && length > limits.max_bytes
    {
        return Err(too_large);
    }
    let limit = usize::try_from(limits.max_bytes).unwrap_or(usize::MAX);
    let collect = Limited::new(body, limit).collect();
    let raw = match tokio::time::timeout(limits.timeout, collect).await {
        Err(_) => return Err(ApiError::BodyTimeout { seconds: limits.timeout.as_secs() }),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => return Err(too_large),
        Ok(Err(e)) => return Err(ApiError::BadRequest(format!("cannot read the request body: {e}"))),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    *received = raw.len() as u64;
    if !gzip {
        return Ok(raw);
    }
    let max = limits.max_bytes;
    tokio::task::spawn_blocking(move || gunzip(&raw, max))
        .await
        .map_err(|e| ApiError::BadRequest(format!("cannot decode the gzip body: {e}")))?
}

/// Decodes a gzip body, refusing one that decodes past `max` bytes.
fn gunzip(raw: &[u8], max: u64) -> Result<Bytes, ApiError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(raw).take(max.saturating_add(1)).read_to_end(&mut out).map_err(
        |e| ApiError::BadRequest(format!("the body is not valid gzip (Content-Encoding: gzip): {e}")),
    )?;
    if out.len() as u64 > max {
        return Err(ApiError::BodyTooLarge { limit: max });
    }
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn gzip_decodes_within_the_limit_only() {
        assert_eq!(gunzip(&gz(b"cpu value=1 1\n"), 100).unwrap().as_ref(), b"cpu value=1 1\n");
        let bomb = gz(&vec![b'a'; 10_000]);
        assert!(bomb.len() < 100);
        assert!(matches!(gunzip(&bomb, 1000), Err(ApiError::BodyTooLarge { limit: 1000 })));
        let err = gunzip(b"plain text", 100).unwrap_err().to_string();
        assert!(err.contains("not valid gzip"), "{err}");
    }
}
