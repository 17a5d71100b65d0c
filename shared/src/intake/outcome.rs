//! What one delivery came to, and the webhook's HTTP answer to it: the status a provider's
//! retry logic reads, the JSON body, and the labels the logs and metrics count by.

use crate::intake::auth::AuthError;
use http::{header, HeaderValue, Response, StatusCode};
use serde::Serialize;

/// Why a request was refused. Nothing is written anywhere for a refused request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The request could not be read (a query string or header the HTTP types refuse).
    BadRequest,
    UnknownRoute,
    MethodNotAllowed,
    PayloadTooLarge,
    Auth(AuthError),
}

impl Refusal {
    pub fn code(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::UnknownRoute => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Auth(e) => e.code(),
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::BadRequest => StatusCode::BAD_REQUEST,
            Self::UnknownRoute => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Auth(e) => e.status(),
        }
    }
}

/// The result of one delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// New event, forwarded.
    Accepted {
        id: String,
    },
    /// Already forwarded earlier.
    Duplicate {
        id: String,
    },
    /// A concurrent delivery of the same event holds the claim.
    InProgress {
        id: String,
    },
    Refused(Refusal),
    /// DynamoDB or SQS failed; the provider should retry.
    Unavailable,
}

/// The JSON response body: `{"status":..,"id":..}` on 200, `{"error":..}` otherwise.
#[derive(Serialize)]
#[serde(untagged)]
enum ResponseBody<'a> {
    Forwarded { status: &'static str, id: &'a str },
    Error { error: &'static str },
}

impl Outcome {
    /// The webhook's HTTP answer: the status, `application/json`, the body (and `Allow` on a
    /// 405). Built from parts, so there is nothing that could fail.
    pub fn response(&self) -> Response<String> {
        let mut response = Response::new(self.body());
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if self.status() == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static("POST"));
        }
        response
    }

    /// The status a provider reads: 200 (forwarded, now or earlier), 409 (in progress: retry),
    /// the refusal's 4xx, 503 (retry).
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Accepted { .. } | Self::Duplicate { .. } => StatusCode::OK,
            Self::InProgress { .. } => StatusCode::CONFLICT,
            Self::Refused(r) => r.status(),
            Self::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The JSON response body.
    pub fn body(&self) -> String {
        let body = match self {
            Self::Accepted { id } | Self::Duplicate { id } => ResponseBody::Forwarded {
                status: self.label(),
                id,
            },
            _ => ResponseBody::Error {
                error: self.label(),
            },
        };
        // A struct of strings always serializes.
        serde_json::to_string(&body).unwrap_or_default()
    }

    /// Every label an outcome can have (the `Outcome` dimension's values).
    pub fn labels() -> Vec<&'static str> {
        let id = String::new;
        let mut all = vec![
            Self::Accepted { id: id() }.label(),
            Self::Duplicate { id: id() }.label(),
            Self::InProgress { id: id() }.label(),
            Self::Unavailable.label(),
        ];
        all.extend(
            [
                Refusal::BadRequest,
                Refusal::UnknownRoute,
                Refusal::MethodNotAllowed,
                Refusal::PayloadTooLarge,
            ]
            .into_iter()
            .chain(AuthError::ALL.map(Refusal::Auth))
            .map(|r| r.code()),
        );
        all
    }

    /// A short label for logs and metrics: the body's `status` or `error`.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Accepted { .. } => "accepted",
            Self::Duplicate { .. } => "duplicate",
            Self::InProgress { .. } => "in_progress",
            Self::Refused(r) => r.code(),
            Self::Unavailable => "unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_bodies_are_the_documented_json() {
        let id = "ab\"c".to_owned();
        assert_eq!(
            Outcome::Accepted { id: id.clone() }.body(),
            r#"{"status":"accepted","id":"ab\"c"}"#
        );
        assert_eq!(
            Outcome::Duplicate { id: id.clone() }.body(),
            r#"{"status":"duplicate","id":"ab\"c"}"#
        );
        assert_eq!(
            Outcome::InProgress { id }.body(),
            r#"{"error":"in_progress"}"#
        );
        assert_eq!(Outcome::Unavailable.body(), r#"{"error":"unavailable"}"#);
        assert_eq!(
            Outcome::Refused(Refusal::Auth(AuthError::InvalidToken)).body(),
            r#"{"error":"invalid_token"}"#
        );
    }

    #[test]
    fn the_answer_carries_the_status_the_json_type_and_on_a_405_the_allowed_method() {
        let accepted = Outcome::Accepted { id: "e1".into() }.response();
        assert_eq!(accepted.status(), StatusCode::OK);
        assert_eq!(accepted.headers()[header::CONTENT_TYPE], "application/json");
        assert_eq!(accepted.headers().get(header::ALLOW), None);
        assert_eq!(accepted.body(), r#"{"status":"accepted","id":"e1"}"#);
        let refused = Outcome::Refused(Refusal::MethodNotAllowed).response();
        assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(refused.headers()[header::ALLOW], "POST");
        assert_eq!(refused.body(), r#"{"error":"method_not_allowed"}"#);
    }
}
