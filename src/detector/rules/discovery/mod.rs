//! Discovery: reading the account's configuration for what to attack or harvest (ATT&CK TA0007).

pub mod ec2_user_data_read_in_bulk;
