//! Bad input at scale: thousands of generated requests to both services; every answer
//! must be one of the contract's statuses with a JSON body, and both must stay live.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{Options, stack};

/// A small deterministic generator (xorshift64*), so a failure can be replayed by seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
        items[self.below(items.len())]
    }

    fn bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len).map(|_| self.next() as u8).collect()
    }

    /// Bytes a header value may carry: visible ASCII, space, tab and obs-text.
    fn header_bytes(&mut self, max: usize) -> Vec<u8> {
        let len = self.below(max + 1);
        (0..len)
            .map(|_| match self.next() as u8 {
                b if b < 0x20 => b' ' + (b % 90),
                0x7f => b'~',
                b => b,
            })
            .collect()
    }

    fn text(&mut self, max: usize) -> String {
        let len = self.below(max + 1);
        const CHARS: &[char] = &[
            'a', 'Z', '0', '@', '.', '-', '_', ' ', '"', '\\', '/', 'é', '€', '😀', '\u{0}', '\n',
            '{', '}', '%',
        ];
        (0..len).map(|_| CHARS[self.below(CHARS.len())]).collect()
    }
}

const ALLOWED: &[u16] = &[
    200, 201, 204, 303, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429,
];
const CODES: &[&str] = &[
    "missing_authorization",
    "missing_user_id",
    "invalid_token",
    "session_expired",
    "session_not_found",
    "session_revoked",
    "invalid_credentials",
    "invalid_request",
    "invalid_email",
    "weak_password",
    "email_taken",
    "payload_too_large",
    "unsupported_media_type",
    "csrf_failed",
    "too_many_requests",
    "not_found",
    "method_not_allowed",
];

fn body(rng: &mut Rng) -> Vec<u8> {
    match rng.below(12) {
        0 => Vec::new(),
        1 => rng.bytes(300),
        2 => format!(
            r#"{{"email":"{}","password":"{}"}}"#,
            rng.text(20),
            rng.text(90)
        )
        .into_bytes(),
        3 => format!(
            r#"{{"email":"fuzz{}@example.com","password":"{}"}}"#,
            rng.next(),
            rng.text(12)
        )
        .into_bytes(),
        4 => br#"{"email":123,"password":["x"]}"#.to_vec(),
        5 => b"[".repeat(5000),
        6 => format!(
            r#"{{"email":"a@example.com","password":"{}"}}"#,
            "x".repeat(17 * 1024)
        )
        .into_bytes(),
        7 => br#"{"email":"a@example.com","password":"12345678""#.to_vec(),
        8 => format!(r#"{{"token":"{}"}}"#, rng.text(40)).into_bytes(),
        9 => {
            br#"{"email":"a@example.com","password":"12345678","extra":{"deep":[1,2,{"x":null}]}}"#
                .to_vec()
        }
        10 => "\u{feff}{\"email\":\"x@y.z\",\"password\":\"pppppppp\"}"
            .as_bytes()
            .to_vec(),
        _ => b"null".to_vec(),
    }
}

fn path(rng: &mut Rng) -> String {
    let known = [
        "/signup",
        "/login",
        "/logout",
        "/session",
        "/introspect",
        "/me",
        "/health/live",
        "/health/ready",
    ];
    match rng.below(6) {
        0 => format!(
            "/{}",
            rng.text(40).replace(['\u{0}', '\n', ' ', '#', '?'], "%20")
        ),
        1 => format!(
            "{}?{}=%ff%00",
            known[rng.below(known.len())],
            rng.below(100)
        ),
        2 => format!("{}/", known[rng.below(known.len())]),
        3 => "/%2e%2e/%2e%2e/etc/passwd".to_owned(),
        _ => known[rng.below(known.len())].to_owned(),
    }
}

async fn hammer(client: reqwest::Client, base: String, seed: u64, count: usize) -> usize {
    let mut rng = Rng(seed);
    let methods = [
        &Method::GET,
        &Method::POST,
        &Method::PUT,
        &Method::DELETE,
        &Method::PATCH,
        &Method::OPTIONS,
    ];
    let mut checked = 0;
    for i in 0..count {
        let method = rng.pick(&methods).clone();
        let url = format!("{base}{}", path(&mut rng));
        let Ok(url) = reqwest::Url::parse(&url) else {
            continue;
        };
        let mut req = client.request(method.clone(), url.clone());
        match rng.below(8) {
            0 => {}
            1 => {
                req = req.header(
                    "Authorization",
                    reqwest::header::HeaderValue::from_bytes(&rng.header_bytes(200)).unwrap(),
                )
            }
            2 => {
                req = req.header(
                    "Authorization",
                    format!(
                        "Bearer {}",
                        String::from_utf8_lossy(&rng.header_bytes(60))
                            .replace(|c: char| c.is_control(), "")
                    ),
                )
            }
            3 => req = req.header("Authorization", "x".repeat(9 * 1024)),
            4 => {
                req = req
                    .header("Authorization", "Bearer a")
                    .header("Authorization", "Bearer b")
            }
            5 => {
                req = req.header(
                    "Authorization",
                    reqwest::header::HeaderValue::from_bytes(b"Bearer \xff\xfe\x80").unwrap(),
                )
            }
            6 => req = req.header("Authorization", format!("{:024x}", rng.next())),
            _ => {
                req = req.header(
                    "Authorization",
                    "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",
                )
            }
        }
        let content_type = rng.pick(&[
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "application/json; charset=latin1",
            "",
        ]);
        if !content_type.is_empty() {
            req = req.header("Content-Type", content_type);
        }
        if rng.below(4) == 0 {
            req = req.header(
                "X-Request-Id",
                reqwest::header::HeaderValue::from_bytes(&rng.header_bytes(300)).unwrap(),
            );
        }
        let res = req
            .body(body(&mut rng))
            .send()
            .await
            .unwrap_or_else(|e| panic!("request {i} (seed {seed}) to {url} failed: {e}"));
        let status = res.status().as_u16();
        assert!(
            ALLOWED.contains(&status),
            "request {i} (seed {seed}): {method} {url} answered {status}"
        );
        // The auth-service's pages answer HTML, CSS or a script, or send the visitor
        // to the other page.
        let page = ["/", "/account", "/assets/app.css", "/assets/app.js"].contains(&url.path());
        if page && (status == 200 || status == 303) {
            if status == 303 {
                assert!(res.headers().contains_key("location"));
            } else {
                let kind = res.headers()["content-type"]
                    .to_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(
                    ["text/html", "text/css", "text/javascript"]
                        .iter()
                        .any(|k| kind.starts_with(k)),
                    "request {i} (seed {seed}): {url} answered {kind}"
                );
            }
            checked += 1;
            continue;
        }
        if status != 204 {
            let bytes = res.bytes().await.unwrap();
            let json: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "request {i} (seed {seed}): {method} {url} {status} body is not JSON: {bytes:?}"
                )
            });
            if status >= 400 {
                let code = json["error"].as_str().unwrap_or_default();
                assert!(
                    CODES.contains(&code),
                    "request {i} (seed {seed}): {status} with code {code:?}"
                );
                assert!(json["message"].is_string());
            }
        }
        checked += 1;
    }
    checked
}

#[tokio::test]
async fn thousands_of_generated_requests_get_contract_answers() {
    let s = stack(Options::default()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..8u64 {
        let base = if worker % 2 == 0 {
            s.auth.url("")
        } else {
            s.resource.url("")
        };
        tasks.spawn(hammer(
            s.client.clone(),
            base,
            0x9E37_79B9_7F4A_7C15 ^ (worker + 1),
            400,
        ));
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done.unwrap();
    }
    assert!(total >= 3000, "checked {total}");
    for service in [&s.auth, &s.resource] {
        let res = s
            .client
            .get(service.url("/health/live"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{} still live", service.name);
    }
}
