//! Impact: data destroyed or held to ransom (ATT&CK TA0040).

pub mod bedrock_model_access_enabled;
pub mod s3_object_encrypted_with_external_kms_key;
