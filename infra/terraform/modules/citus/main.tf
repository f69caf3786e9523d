# Self-managed Citus on EC2: one coordinator (where the app connects) and N workers.
#
# Schema-based sharding (Citus >= 12): with `citus.enable_schema_based_sharding = on`, every
# CREATE SCHEMA on the coordinator makes a "distributed schema" placed whole on one worker, so
# each tenant_<slug> schema (all its tables, foreign keys and joins) lives on one node and the
# app's per-tenant queries are routed there unchanged. `public` stays on the coordinator (the
# registry, national rollups, platform users). See docs/infra.md for the runbook.

terraform {
  required_providers {
    aws = {
      source = "hashicorp/aws"
    }
  }
}

data "aws_ssm_parameter" "ubuntu" {
  name = "/aws/service/canonical/ubuntu/server/22.04/stable/current/arm64/hvm/ebs-gp2/ami-id"
}

data "aws_region" "current" {}

resource "aws_security_group" "cluster" {
  name        = "${var.name}-citus"
  description = "Citus coordinator <-> workers"
  vpc_id      = data.aws_subnet.first.vpc_id
}

data "aws_subnet" "first" {
  id = var.subnet_ids[0]
}

resource "aws_vpc_security_group_ingress_rule" "cluster_postgres" {
  security_group_id            = aws_security_group.cluster.id
  referenced_security_group_id = aws_security_group.cluster.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "cluster_all" {
  security_group_id = aws_security_group.cluster.id
  cidr_ipv4         = "0.0.0.0/0"
  ip_protocol       = "-1"
  description       = "Peers, package mirrors, S3 (WAL archive), Secrets Manager"
}

# ---------------------------------------------------------------- WAL archive and base backups

resource "aws_s3_bucket" "wal" {
  bucket_prefix = "${var.name}-citus-wal-"
}

resource "aws_s3_bucket_public_access_block" "wal" {
  bucket                  = aws_s3_bucket.wal.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "wal" {
  bucket = aws_s3_bucket.wal.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

resource "aws_s3_bucket_versioning" "wal" {
  bucket = aws_s3_bucket.wal.id

  versioning_configuration {
    status = "Enabled"
  }
}

# ---------------------------------------------------------------- instance role

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["ec2.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "node" {
  name               = "${var.name}-citus-node"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "node" {
  statement {
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket"]
    resources = [aws_s3_bucket.wal.arn, "${aws_s3_bucket.wal.arn}/*"]
  }

  statement {
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.db_password_secret_arn]
  }

  statement {
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "node" {
  role   = aws_iam_role.node.id
  policy = data.aws_iam_policy_document.node.json
}

resource "aws_iam_role_policy_attachment" "ssm" {
  role       = aws_iam_role.node.name
  policy_arn = "arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore"
}

resource "aws_iam_instance_profile" "node" {
  name = "${var.name}-citus-node"
  role = aws_iam_role.node.name
}

# ---------------------------------------------------------------- nodes

locals {
  common = {
    postgres_major         = var.postgres_major
    citus_package          = var.citus_package
    vpc_cidr               = var.vpc_cidr
    wal_bucket             = aws_s3_bucket.wal.bucket
    region                 = data.aws_region.current.name
    db_password_secret_arn = var.db_password_secret_arn
    retention_days         = var.backup_retention_days
  }
}

resource "aws_instance" "worker" {
  count                  = var.worker_count
  ami                    = data.aws_ssm_parameter.ubuntu.value
  instance_type          = var.worker_instance_type
  subnet_id              = var.subnet_ids[count.index % length(var.subnet_ids)]
  vpc_security_group_ids = concat(var.security_group_ids, [aws_security_group.cluster.id])
  iam_instance_profile   = aws_iam_instance_profile.node.name
  ebs_optimized          = true
  monitoring             = true
  user_data              = templatefile("${path.module}/node.sh.tftpl", merge(local.common, { role = "worker", worker_ips = "" }))

  metadata_options {
    http_tokens = "required"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.volume_size_gb
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  tags = { Name = "${var.name}-citus-worker-${count.index}", Role = "citus-worker" }
}

resource "aws_instance" "coordinator" {
  ami                    = data.aws_ssm_parameter.ubuntu.value
  instance_type          = var.coordinator_instance_type
  subnet_id              = var.subnet_ids[0]
  vpc_security_group_ids = concat(var.security_group_ids, [aws_security_group.cluster.id])
  iam_instance_profile   = aws_iam_instance_profile.node.name
  ebs_optimized          = true
  monitoring             = true
  user_data              = templatefile("${path.module}/node.sh.tftpl", merge(local.common, { role = "coordinator", worker_ips = join(" ", aws_instance.worker[*].private_ip) }))

  metadata_options {
    http_tokens = "required"
  }

  root_block_device {
    volume_type = "gp3"
    volume_size = var.volume_size_gb
    encrypted   = true
    kms_key_id  = var.kms_key_arn
  }

  tags = { Name = "${var.name}-citus-coordinator", Role = "citus-coordinator" }
}
