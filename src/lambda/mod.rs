//! The AWS Lambda adapter: event shapes in, S3 reads, SNS publishes and DynamoDB dedup out.
