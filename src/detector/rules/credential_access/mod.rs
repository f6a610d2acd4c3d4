//! Credential access: harvesting secrets, parameters and passwords (ATT&CK TA0006).

pub mod ec2_password_data_read_in_bulk;
pub mod secretsmanager_secrets_read_in_bulk;
pub mod ssm_secure_parameters_read_in_bulk;
