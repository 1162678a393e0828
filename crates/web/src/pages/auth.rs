//! Signing in and out.

use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use tributary_app::App;
use tributary_app::auth::LOGIN_TOKEN_HOURS;

use super::{PageError, render, status_of};
use crate::session::{self, Session};

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

pub async fn login_page(Query(q): Query<Next>) -> Response {
    render(&LoginPage { next: session::safe_next(q.next.as_deref()), name: String::new(), error: None })
}

#[derive(Deserialize)]
pub struct LoginForm {
    name: String,
    password: String,
    next: Option<String>,
}

pub async fn login(State(app): State<App>, Form(f): Form<LoginForm>) -> Response {
    let next = session::safe_next(f.next.as_deref());
    let (name, password) = (f.name.trim().to_string(), f.password);
    let n = name.clone();
    match app.blocking(move |a| a.login(&n, &password)).await {
        Ok(issued) => {
            let cookie = session::set_cookie(Some(&issued.token), LOGIN_TOKEN_HOURS * 3600);
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        Err(e) => (status_of(&e), render(&LoginPage { next, name, error: Some(e.to_string()) })).into_response(),
    }
}

#[derive(Deserialize)]
pub struct CsrfForm {
    #[serde(rename = "_csrf")]
    csrf: String,
}

pub async fn logout(State(app): State<App>, s: Session, Form(f): Form<CsrfForm>) -> Result<Response, PageError> {
    s.check_csrf(&f.csrf)?;
    let token = s.token.clone();
    app.blocking(move |a| a.logout(&token)).await?;
    Ok(([(header::SET_COOKIE, session::set_cookie(None, 0))], Redirect::to("/login")).into_response())
}
