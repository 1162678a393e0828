//! Extractors whose rejections are problem details: JSON bodies, query strings, path
//! parameters, and the caller (set by the auth layer in [`crate::api`]).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use tributary_app::Principal;

use crate::problem::{Problem, problem};

/// A JSON request body.
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Problem> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(e) => Err(json_problem(e)),
        }
    }
}

fn json_problem(e: JsonRejection) -> Problem {
    // A body of the wrong shape is bad input like any other: 400, not axum's 422.
    let status = if e.status() == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { e.status() };
    let detail = match &e {
        JsonRejection::MissingJsonContentType(_) => "send the body as JSON with Content-Type: application/json".to_string(),
        _ if status == StatusCode::PAYLOAD_TOO_LARGE => format!("the body is larger than {} bytes", crate::MAX_BODY),
        JsonRejection::JsonDataError(_) => e.body_text().replace("Failed to deserialize the JSON body into the target type: ", ""),
        _ => e.body_text(),
    };
    problem(status, detail)
}

/// Query-string parameters.
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|q| Params(q.0))
            .map_err(|e: QueryRejection| problem(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

/// Path parameters.
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|p| PathParams(p.0))
            .map_err(|e: PathRejection| problem(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

/// The authenticated caller.
pub struct Who(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Who {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Who)
            .ok_or_else(|| problem(StatusCode::UNAUTHORIZED, "sign in: send Authorization: Bearer TOKEN"))
    }
}
