//! `GET /health/ready`: Redis and MongoDB must both answer.

use actix_web::{HttpResponse, web};
use session_core::http::readiness;

use crate::accounts::Accounts;

pub async fn ready(accounts: web::Data<Accounts>) -> HttpResponse {
    let (redis, mongodb) = tokio::join!(accounts.store().ping(), accounts.users().ping());
    readiness(&[("redis", redis.is_ok()), ("mongodb", mongodb.is_ok())])
}
