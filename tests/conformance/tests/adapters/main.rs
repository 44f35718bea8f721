//! One suite, written once, run against every web adapter (the way tower-sessions runs
//! one suite per store): session-actix's extractor, session-axum's extractor and
//! session-axum's layer. Each case of the contract's credential rules is asked of a
//! real server of each adapter over HTTP, against a real Redis (started by
//! scripts/test.sh), and must get the contract's status, body and headers; a last
//! test asks every case of all three and compares the answers byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly

mod cases;
mod servers;
mod support;

use cases::Case;
use servers::Adapter;
use support::Fixture;

/// Every case of one fixture against `adapter`, each checked against its expectation.
async fn run(adapter: Adapter, fixture: &Fixture, cases: &[Case]) {
    let url = adapter.start(fixture).await;
    for case in cases {
        let answer = case.send(&url).await;
        case.expect
            .check(&answer, &format!("{adapter:?}: {}", case.name));
    }
}

macro_rules! conformance {
    ($($name:ident => $adapter:expr),+ $(,)?) => {$(
        mod $name {
            use super::*;

            #[tokio::test]
            async fn every_bearer_credential_case_answers_as_the_contract_says() {
                let fixture = Fixture::new(false, true).await;
                run($adapter, &fixture, &cases::bearer(&fixture)).await;
            }

            #[tokio::test]
            async fn seed_mode_on_reads_a_user_id_and_a_bearer_still_works() {
                let fixture = Fixture::new(true, true).await;
                run($adapter, &fixture, &cases::seed(&fixture)).await;
            }

            #[tokio::test]
            async fn the_cookie_needs_its_session_bound_csrf_header_on_unsafe_methods() {
                let fixture = Fixture::new(false, true).await;
                run($adapter, &fixture, &cases::cookie(&fixture)).await;
            }

            #[tokio::test]
            async fn without_a_cookie_policy_the_cookie_is_no_credential() {
                let fixture = Fixture::new(false, false).await;
                run($adapter, &fixture, &cases::no_cookies(&fixture)).await;
            }

            #[tokio::test]
            async fn redis_down_is_503_with_retry_after() {
                let fixture = Fixture::unreachable().await;
                run($adapter, &fixture, &cases::redis_down(&fixture)).await;
            }
        }
    )+};
}

conformance! {
    actix => Adapter::Actix,
    axum_extractor => Adapter::AxumExtractor,
    axum_layer => Adapter::AxumLayer,
}

/// Every case of every fixture, asked of all three adapters: the same status, body
/// and contract headers, byte for byte.
#[tokio::test]
async fn every_adapter_answers_every_case_alike() {
    let fixtures = [
        (
            Fixture::new(false, true).await,
            cases::bearer as fn(&Fixture) -> Vec<Case>,
        ),
        (Fixture::new(true, true).await, cases::seed),
        (Fixture::new(false, true).await, cases::cookie),
        (Fixture::new(false, false).await, cases::no_cookies),
        (Fixture::unreachable().await, cases::redis_down),
    ];
    let mut compared = 0;
    for (fixture, make) in &fixtures {
        let mut urls = Vec::new();
        for adapter in Adapter::ALL {
            urls.push((adapter, adapter.start(fixture).await));
        }
        for case in make(fixture) {
            let mut answers = Vec::new();
            for (adapter, url) in &urls {
                answers.push((adapter, case.send(url).await));
            }
            let (first_adapter, first) = &answers[0];
            for (adapter, answer) in &answers[1..] {
                assert_eq!(
                    first, answer,
                    "{}: {first_adapter:?} and {adapter:?} differ",
                    case.name
                );
            }
            compared += 1;
        }
    }
    assert!(compared >= 25, "only {compared} cases compared");
}

/// A request's validation future is moved (copied) once for every level of futures it
/// passes through; a connection set-up held inline (the pool's, kilobytes with TLS)
/// once made every request copy some 15 KB. Set-ups are boxed; this keeps it so for
/// the future every adapter awaits.
#[tokio::test]
async fn validating_a_request_carries_no_connection_set_up_in_its_future() {
    let fixture = Fixture::new(false, true).await;
    let credential = session_core::Credential::Bearer("t".into());
    let sizes = [
        ("held", std::mem::size_of_val(&fixture.store.held("u", "s"))),
        (
            "validate",
            std::mem::size_of_val(&fixture.validator().validate(&credential)),
        ),
        (
            "authenticate",
            std::mem::size_of_val(
                &fixture
                    .validator()
                    .authenticate(Err(session_core::AuthError::MissingAuthorization)),
            ),
        ),
    ];
    for (what, size) in sizes {
        assert!(size <= 4096, "the {what} future is {size} bytes");
    }
}
