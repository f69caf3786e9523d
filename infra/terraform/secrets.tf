# Secrets live in Secrets Manager and reach the tasks as environment variables injected by ECS
# at start (task definition `secrets`), never in the image or the task definition itself.
# Generated values do pass through Terraform state: keep the state bucket encrypted and private.

resource "random_password" "secret_key" {
  length  = 64
  special = false
}

resource "random_password" "db" {
  length  = 40
  special = false
}

resource "random_password" "redis" {
  length  = 48
  special = false
}

resource "aws_secretsmanager_secret" "secret_key" {
  name                    = "${local.prefix}/secret-key"
  description             = "SECRET_KEY: signs session cookies and CSRF tokens"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "secret_key" {
  secret_id     = aws_secretsmanager_secret.secret_key.id
  secret_string = random_password.secret_key.result
}

resource "aws_secretsmanager_secret" "db_password" {
  name                    = "${local.prefix}/db-password"
  description             = "Master password of the PostgreSQL database"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "db_password" {
  secret_id     = aws_secretsmanager_secret.db_password.id
  secret_string = random_password.db.result
}

resource "aws_secretsmanager_secret" "database_url" {
  name                    = "${local.prefix}/database-url"
  description             = "DATABASE_URL of the app (RDS endpoint or Citus coordinator)"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "database_url" {
  secret_id     = aws_secretsmanager_secret.database_url.id
  secret_string = "postgresql://siaga112:${random_password.db.result}@${local.db_host}:5432/siaga112?sslmode=require"
}

resource "aws_secretsmanager_secret" "redis_url" {
  name                    = "${local.prefix}/redis-url"
  description             = "REDIS_URL of the app (TLS, AUTH token)"
  kms_key_id              = aws_kms_key.main.arn
  recovery_window_in_days = 30
}

resource "aws_secretsmanager_secret_version" "redis_url" {
  secret_id     = aws_secretsmanager_secret.redis_url.id
  secret_string = "rediss://:${random_password.redis.result}@${aws_elasticache_replication_group.main.primary_endpoint_address}:6379/0"
}
