//! The one integration-test binary. Each module tests one face of meshc
//! through data: fixtures, examples, reference goldens, the CLI.

mod support;

mod examples;
mod fixtures;
mod schema;
