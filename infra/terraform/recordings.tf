# Call recordings (issue 23): private, KMS-encrypted, TLS only. Not versioned on purpose: when the
# app deletes a recording at the end of its regency's retention, no old version may survive.
# The lifecycle rule is only a backstop at the longest retention the app allows (3650 days).

module "recordings_bucket" {
  source = "./modules/private_bucket"

  name_prefix = "${local.prefix}-recordings-"
  kms_key_arn = aws_kms_key.main.arn
  versioned   = false
}

resource "aws_s3_bucket_lifecycle_configuration" "recordings" {
  bucket = module.recordings_bucket.id

  rule {
    id     = "retention-backstop"
    status = "Enabled"

    filter {}

    expiration {
      days = 3660
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }
}

# The app (web: store and stream; worker: retention deletes) may touch objects, nothing else.
resource "aws_iam_role_policy" "task_recordings" {
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task_recordings.json
}

data "aws_iam_policy_document" "task_recordings" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${module.recordings_bucket.arn}/*"]
  }

  statement {
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.main.arn]
  }
}
