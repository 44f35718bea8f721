//! The contract's JSON body on the answers actix-web's HTTP/1 parser sends by itself:
//! `400` for a request it cannot parse, `431` for a head over its limits and `408` for
//! a head that does not arrive in time. Those leave the parser with no body at all;
//! [`Contracted`] sits between the connection and the parser and, when such a bare
//! answer is written, writes it with the contract's body instead. Every other byte
//! passes through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A connection whose bare parser errors get the contract's JSON body.
pub struct Contracted<T> {
    inner: T,
    /// A rewritten answer not yet fully written.
    pending: Vec<u8>,
    written: usize,
}

impl<T> Contracted<T> {
    /// Wraps a connection.
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            pending: Vec::new(),
            written: 0,
        }
    }
}

/// The contract's version of a bare parser answer at the start of `buf`, if it is one:
/// the status line and headers as actix wrote them with the body length, type and
/// `Cache-Control` set, then the JSON body. Returns the rewrite and how many bytes of
/// `buf` it replaces.
fn rewrite(buf: &[u8]) -> Option<(Vec<u8>, usize)> {
    let message = if buf.starts_with(b"HTTP/1.1 400 ") {
        "The request is not valid HTTP."
    } else if buf.starts_with(b"HTTP/1.1 431 ") {
        "The request's headers are too large."
    } else if buf.starts_with(b"HTTP/1.1 408 ") {
        "The request did not arrive in time."
    } else {
        return None;
    };
    let end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let mut lines = head.split("\r\n").filter(|l| !l.is_empty());
    let status_line = lines.next()?;
    let mut headers = Vec::new();
    let mut empty_body = false;
    for line in lines {
        let name = line
            .split(':')
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match name.as_str() {
            "content-length" => empty_body = line.trim_end().ends_with(": 0"),
            "content-type" | "cache-control" => return None,
            _ => headers.push(line),
        }
    }
    if !empty_body {
        return None;
    }
    let body = format!(r#"{{"error":"invalid_request","message":"{message}"}}"#);
    let mut out = format!(
        "{status_line}\r\ncontent-length: {}\r\ncontent-type: application/json\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n",
        body.len()
    );
    for header in headers {
        out.push_str(header);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(&body);
    Some((out.into_bytes(), end))
}

impl<T: AsyncWrite + Unpin> Contracted<T> {
    /// Writes out what is pending; Ready(Ok) once nothing is.
    fn drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            let n = match Pin::new(&mut self.inner).poll_write(cx, &self.pending[self.written..]) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                Poll::Pending => return Poll::Pending,
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.written += n;
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Contracted<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Contracted<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        }
        if let Some((rewritten, replaced)) = rewrite(buf) {
            this.pending = rewritten;
            // The caller's bytes are taken; they go out (rewritten) on the next drain.
            let _ = this.drain(cx);
            return Poll::Ready(Ok(replaced));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        match this.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut this.inner).poll_shutdown(cx),
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_parser_answer_gets_the_contract_body() {
        let bare = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\ndate: Sun, 29 Nov 2026 16:00:00 GMT\r\n\r\n";
        let (out, replaced) = rewrite(bare).expect("rewritten");
        assert_eq!(replaced, bare.len());
        let text = String::from_utf8(out).expect("utf-8");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 400 Bad Request\r\n"));
        assert!(head.contains("connection: close"));
        assert!(head.contains(&format!("content-length: {}", body.len())));
        assert!(head.contains("content-type: application/json"));
        let json: serde_json::Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(json["error"], "invalid_request");
    }

    #[test]
    fn answers_with_a_body_pass_untouched() {
        let answers: [&[u8]; 3] = [
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 60\r\ncontent-type: application/json\r\n\r\n{}",
            b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n",
            b"HTTP/1.1 401 Unauthorized\r\ncontent-length: 0\r\n\r\n",
        ];
        for answer in answers {
            assert!(rewrite(answer).is_none());
        }
    }
}
