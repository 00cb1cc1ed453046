//! The GitHub REST imitation: issues and comments, GitHub's errors and rate limits.

use super::{client, header};
use flowpilot_tests::github::{GITHUB_TOKEN, GitHub, GitHubFault};
use serde_json::{Value, json};

fn github_post(github: &GitHub, path: &str) -> reqwest::RequestBuilder {
    client()
        .post(github.url(path))
        .bearer_auth(GITHUB_TOKEN)
        .header("Accept", "application/vnd.github+json")
        .header("X-GitHub-Api-Version", "2022-11-28")
        .header("User-Agent", "flowpilot-tests")
}

#[tokio::test]
async fn github_creates_an_issue_and_a_comment() {
    let github = GitHub::start().await;
    let created = github_post(&github, "/repos/octo-org/octo-repo/issues")
        .json(&json!({"title": "Found a bug", "body": "It broke", "labels": ["bug"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    assert_eq!(header(&created, "x-ratelimit-remaining"), Some("4999"));
    let issue: Value = created.json().await.unwrap();
    assert_eq!(issue["number"], 1);
    assert_eq!(issue["html_url"], "https://github.com/octo-org/octo-repo/issues/1");
    assert_eq!(
        (issue["title"].clone(), issue["body"].clone()),
        (json!("Found a bug"), json!("It broke"))
    );
    assert_eq!(issue["labels"][0]["name"], "bug");

    let commented = github_post(&github, "/repos/octo-org/octo-repo/issues/1/comments")
        .json(&json!({"body": "Looking into it"}))
        .send()
        .await
        .unwrap();
    assert_eq!(commented.status(), 201);
    let comment: Value = commented.json().await.unwrap();
    assert!(
        comment["html_url"]
            .as_str()
            .unwrap()
            .starts_with("https://github.com/octo-org/octo-repo/issues/1#issuecomment-")
    );
    assert_eq!(github.issues()[0]["comments"], 1);
    let recorded = &github.requests()[0];
    assert_eq!(recorded.header("x-github-api-version"), Some("2022-11-28"));
}

#[tokio::test]
async fn github_errors_and_rate_limits_have_githubs_shape() {
    let github = GitHub::start().await;
    let path = "/repos/octo-org/octo-repo/issues";
    let bad = client()
        .post(github.url(path))
        .bearer_auth("ghp_wrong")
        .header("User-Agent", "t")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 401);
    let error: Value = bad.json().await.unwrap();
    assert_eq!(
        (error["message"].clone(), error["documentation_url"].clone()),
        (json!("Bad credentials"), json!("https://docs.github.com/rest"))
    );

    let no_agent = client()
        .post(github.url(path))
        .bearer_auth(GITHUB_TOKEN)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(no_agent.status(), 403, "GitHub refuses a request without User-Agent");

    let missing = github_post(&github, "/repos/octo-org/nope/issues")
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.json::<Value>().await.unwrap()["message"], "Not Found");

    let empty = github_post(&github, path)
        .json(&json!({"title": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 422);
    let error: Value = empty.json().await.unwrap();
    assert_eq!(error["message"], "Validation Failed");
    assert_eq!(
        error["errors"][0],
        json!({"resource": "Issue", "code": "missing_field", "field": "title"})
    );

    github.fail_next(
        GitHubFault::PrimaryRateLimit {
            status: 403,
            reset_in: 60,
        },
        1,
    );
    github.fail_next(
        GitHubFault::SecondaryRateLimit {
            status: 429,
            retry_after: 30,
        },
        1,
    );
    let primary = github_post(&github, path)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(primary.status(), 403);
    assert_eq!(header(&primary, "x-ratelimit-remaining"), Some("0"));
    let reset: i64 = header(&primary, "x-ratelimit-reset").unwrap().parse().unwrap();
    assert!(
        (reset - chrono::Utc::now().timestamp() - 60).abs() <= 2,
        "reset is an epoch second a minute ahead"
    );
    let secondary = github_post(&github, path)
        .json(&json!({"title": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(secondary.status(), 429);
    assert_eq!(header(&secondary, "retry-after"), Some("30"));
    assert!(github.issues().is_empty());
}
