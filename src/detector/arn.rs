//! Account ids from ARNs and bare ids: the one place that knows their shape.

/// True for a bare 12-digit AWS account id.
pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The parts of an ARN: `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    /// `aws`, `aws-cn`, `aws-us-gov`, ...
    pub partition: &'a str,
    /// The service namespace (`iam`, `s3`, ...).
    pub service: &'a str,
    /// The region, empty for global resources.
    pub region: &'a str,
    /// The owning account id, empty for S3 buckets and some global resources.
    pub account: &'a str,
    /// Everything after the account field (`role/Name`, `bucket/key`, ...).
    pub resource: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits an ARN in any AWS partition (`aws`, `aws-us-gov`, `aws-cn`, `aws-iso*`, ...).
    pub fn parse(s: &'a str) -> Option<Self> {
        let mut parts = s.splitn(6, ':');
        if !parts.next()?.eq_ignore_ascii_case("arn") {
            return None;
        }
        let partition = parts.next()?;
        if !partition.starts_with("aws") {
            return None;
        }
        Some(Arn {
            partition,
            service: parts.next()?,
            region: parts.next()?,
            account: parts.next()?,
            resource: parts.next()?,
        })
    }
}

/// The account id a principal or resource string names: a bare 12-digit id, or the account
/// field of an ARN when that field is a 12-digit id. `None` for anything else (service
/// principals, `arn:aws:iam::cloudfront:user/...`, wildcards, unique ids).
pub fn account_of(s: &str) -> Option<&str> {
    let s = s.trim();
    if is_account_id(s) {
        return Some(s);
    }
    Arn::parse(s)
        .map(|arn| arn.account)
        .filter(|a| is_account_id(a))
}

/// The ARN partition of a region: `aws-cn` for `cn-*`, `aws-us-gov` for `us-gov-*`, else `aws`.
pub fn partition_for_region(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// True for a CloudFront origin access identity principal
/// (`arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E...`).
pub fn is_cloudfront_oai(s: &str) -> bool {
    Arn::parse(s.trim()).is_some_and(|arn| {
        arn.service == "iam" && arn.account == "cloudfront" && arn.resource.starts_with("user/")
    })
}

/// True for an AWS service principal such as `cloudtrail.amazonaws.com` or
/// `logs.us-east-1.amazonaws.com.cn`.
pub fn is_service_principal(s: &str) -> bool {
    let s = s.trim().to_ascii_lowercase();
    s.ends_with(".amazonaws.com") || s.ends_with(".amazonaws.com.cn") || s.ends_with(".amazon.com")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_come_from_every_partition() {
        assert_eq!(
            account_of("arn:aws:iam::111122223333:root"),
            Some("111122223333")
        );
        assert_eq!(
            account_of("arn:aws-us-gov:iam::111122223333:role/x"),
            Some("111122223333")
        );
        assert_eq!(
            account_of("arn:aws-cn:sts::111122223333:assumed-role/r/s"),
            Some("111122223333")
        );
        assert_eq!(
            account_of("arn:aws:kms:us-east-1:999999999999:key/abc"),
            Some("999999999999")
        );
        assert_eq!(account_of(" 123456789012 "), Some("123456789012"));
    }

    #[test]
    fn non_accounts_give_none() {
        for s in [
            "*",
            "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E1",
            "cloudtrail.amazonaws.com",
            "AIDAJQABLZS4A3QDU576Q",
            "arn:aws:s3:::bucket-123456789012",
            "arn:aws:iam::*:root",
            "12345678901",
            "1234567890123",
            "arn:notaws:iam::111122223333:root",
            "",
        ] {
            assert_eq!(account_of(s), None, "{s}");
        }
    }

    #[test]
    fn recognises_oai_and_service_principals() {
        assert!(is_cloudfront_oai(
            "arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2QWRUHAPOMQZL"
        ));
        assert!(!is_cloudfront_oai(
            "arn:aws:iam::111122223333:user/cloudfront"
        ));
        assert!(is_service_principal("cloudtrail.amazonaws.com"));
        assert!(is_service_principal("logs.cn-north-1.amazonaws.com.cn"));
        assert!(!is_service_principal("111122223333"));
    }
}
