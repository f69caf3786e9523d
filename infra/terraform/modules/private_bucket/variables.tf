variable "name_prefix" {
  description = "Prefix of the bucket's name (a random suffix follows)"
  type        = string
}

variable "kms_key_arn" {
  description = "KMS key that encrypts every object"
  type        = string
}

variable "versioned" {
  description = "Keep old versions of overwritten or deleted objects (off where a deletion must be final)"
  type        = bool
}
