# Production for Siaga112 on AWS (region ap-southeast-3, Jakarta, by default: data stays in Indonesia).
# State belongs in an encrypted, versioned S3 bucket with DynamoDB locking; configure it per
# environment with `terraform init -backend-config=backend.hcl` (see docs/infra.md).

terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.60"
    }
    random = {
      source  = "hashicorp/random"
      version = "~> 3.6"
    }
  }

  backend "s3" {}
}

provider "aws" {
  region = var.region

  default_tags {
    tags = local.tags
  }
}
