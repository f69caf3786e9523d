# PostgreSQL: RDS (default) or, with citus_enabled, a self-managed Citus cluster (modules/citus)
# whose schema-based sharding puts each tenant_<slug> schema whole on one worker node.

locals {
  db_host = var.citus_enabled ? module.citus[0].coordinator_private_ip : aws_db_instance.main[0].address
}

resource "aws_db_subnet_group" "main" {
  name       = local.prefix
  subnet_ids = aws_subnet.private[*].id
}

resource "aws_db_parameter_group" "main" {
  name   = "${local.prefix}-pg16"
  family = "postgres16"

  parameter {
    name         = "max_connections"
    value        = tostring(var.db_max_connections)
    apply_method = "pending-reboot"
  }

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }

  # Statements slower than 500 ms are logged (a slow console page shows up here first).
  parameter {
    name  = "log_min_duration_statement"
    value = "500"
  }

  parameter {
    name  = "idle_in_transaction_session_timeout"
    value = "60000"
  }
}

resource "aws_db_instance" "main" {
  count = var.citus_enabled ? 0 : 1

  identifier             = local.prefix
  engine                 = "postgres"
  engine_version         = var.db_engine_version
  instance_class         = var.db_instance_class
  allocated_storage      = var.db_allocated_storage_gb
  max_allocated_storage  = var.db_max_allocated_storage_gb
  storage_type           = "gp3"
  storage_encrypted      = true
  kms_key_id             = aws_kms_key.main.arn
  db_name                = "siaga112"
  username               = "siaga112"
  password               = random_password.db.result
  port                   = 5432
  multi_az               = var.db_multi_az
  db_subnet_group_name   = aws_db_subnet_group.main.name
  vpc_security_group_ids = [aws_security_group.data.id]
  parameter_group_name   = aws_db_parameter_group.main.name
  publicly_accessible    = false

  # Automated daily snapshots + WAL archiving = point-in-time recovery within the window.
  backup_retention_period   = var.db_backup_retention_days
  backup_window             = "18:00-19:00"
  maintenance_window        = "sun:19:30-sun:20:30"
  copy_tags_to_snapshot     = true
  delete_automated_backups  = false
  deletion_protection       = true
  skip_final_snapshot       = false
  final_snapshot_identifier = "${local.prefix}-final"

  performance_insights_enabled          = true
  performance_insights_kms_key_id       = aws_kms_key.main.arn
  performance_insights_retention_period = 7
  monitoring_interval                   = 60
  monitoring_role_arn                   = aws_iam_role.rds_monitoring.arn
  enabled_cloudwatch_logs_exports       = ["postgresql", "upgrade"]
  auto_minor_version_upgrade            = true
  iam_database_authentication_enabled   = true
}

resource "aws_iam_role" "rds_monitoring" {
  name               = "${local.prefix}-rds-monitoring"
  assume_role_policy = data.aws_iam_policy_document.rds_monitoring_assume.json
}

data "aws_iam_policy_document" "rds_monitoring_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["monitoring.rds.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy_attachment" "rds_monitoring" {
  role       = aws_iam_role.rds_monitoring.name
  policy_arn = "arn:aws:iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"
}

# ---------------------------------------------------------------- backups beyond the PITR window

# AWS Backup keeps daily copies for 35 days and monthly ones for a year, in a vault that even an
# account administrator cannot empty early (vault lock), for the RDS database and the documents.
resource "aws_backup_vault" "main" {
  name        = local.prefix
  kms_key_arn = aws_kms_key.main.arn
}

resource "aws_backup_vault_lock_configuration" "main" {
  backup_vault_name  = aws_backup_vault.main.name
  min_retention_days = 7
  max_retention_days = 400
}

resource "aws_backup_plan" "main" {
  name = local.prefix

  rule {
    rule_name         = "daily"
    target_vault_name = aws_backup_vault.main.name
    schedule          = "cron(0 19 * * ? *)"

    lifecycle {
      delete_after = 35
    }
  }

  rule {
    rule_name         = "monthly"
    target_vault_name = aws_backup_vault.main.name
    schedule          = "cron(0 20 1 * ? *)"

    lifecycle {
      cold_storage_after = 30
      delete_after       = 365
    }
  }
}

resource "aws_backup_selection" "main" {
  name         = local.prefix
  plan_id      = aws_backup_plan.main.id
  iam_role_arn = aws_iam_role.backup.arn

  resources = concat(
    [module.documents_bucket.arn],
    var.citus_enabled ? [] : [aws_db_instance.main[0].arn],
  )
}

resource "aws_iam_role" "backup" {
  name               = "${local.prefix}-backup"
  assume_role_policy = data.aws_iam_policy_document.backup_assume.json
}

data "aws_iam_policy_document" "backup_assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["backup.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy_attachment" "backup" {
  for_each = toset([
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
    "arn:aws:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Backup",
    "arn:aws:iam::aws:policy/AWSBackupServiceRolePolicyForS3Restore",
  ])

  role       = aws_iam_role.backup.name
  policy_arn = each.value
}

# ---------------------------------------------------------------- Citus variant

module "citus" {
  source = "./modules/citus"
  count  = var.citus_enabled ? 1 : 0

  name                      = local.prefix
  subnet_ids                = aws_subnet.private[*].id
  security_group_ids        = [aws_security_group.data.id]
  vpc_cidr                  = var.vpc_cidr
  worker_count              = var.citus_worker_count
  coordinator_instance_type = var.citus_coordinator_instance_type
  worker_instance_type      = var.citus_worker_instance_type
  volume_size_gb            = var.citus_volume_size_gb
  kms_key_arn               = aws_kms_key.main.arn
  db_password_secret_arn    = aws_secretsmanager_secret.db_password.arn
  backup_retention_days     = var.db_backup_retention_days
}
