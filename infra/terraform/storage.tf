# Uploaded documents (signup letters, SK decrees, attachments): private, encrypted, versioned.

module "documents_bucket" {
  source = "./modules/private_bucket"

  name_prefix = "${local.prefix}-documents-"
  kms_key_arn = aws_kms_key.main.arn
  versioned   = true
}

resource "aws_s3_bucket_lifecycle_configuration" "documents" {
  bucket = module.documents_bucket.id

  rule {
    id     = "old-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = 90
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 2
    }
  }
}
