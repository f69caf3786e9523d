data "aws_availability_zones" "available" {
  state = "available"
}

data "aws_caller_identity" "current" {}

locals {
  prefix = "${var.name}-${var.environment}"
  azs    = slice(data.aws_availability_zones.available.names, 0, var.az_count)

  tags = {
    Project     = "siaga112"
    Environment = var.environment
    ManagedBy   = "terraform"
  }

  # The app reads these names (app/config.py); secrets come from Secrets Manager, never plain env.
  app_environment = [
    { name = "ENVIRONMENT", value = "production" },
    { name = "HOST", value = "0.0.0.0" },
    { name = "PORT", value = "8112" },
    { name = "TENANT_DOMAIN", value = var.tenant_domain },
    { name = "DOCUMENTS_BUCKET", value = module.documents_bucket.bucket },
    { name = "RECORDINGS_STORE", value = "s3" },
    { name = "RECORDINGS_BUCKET", value = module.recordings_bucket.bucket },
    { name = "AWS_REGION", value = var.region },
  ]

  app_secrets = [
    { name = "SECRET_KEY", valueFrom = aws_secretsmanager_secret.secret_key.arn },
    { name = "DATABASE_URL", valueFrom = aws_secretsmanager_secret.database_url.arn },
    { name = "REDIS_URL", valueFrom = aws_secretsmanager_secret.redis_url.arn },
  ]
}
