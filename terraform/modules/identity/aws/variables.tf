variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "bucket_arns" {
  description = "ARNs of the lake's buckets the workloads read and write."
  type        = list(string)

  validation {
    condition     = alltrue([for arn in var.bucket_arns : startswith(arn, "arn:")])
    error_message = "bucket_arns must be ARNs."
  }
}

variable "secret_arn" {
  description = "The platform's Secrets Manager secret the workloads read."
  type        = string

  validation {
    condition     = startswith(var.secret_arn, "arn:")
    error_message = "secret_arn must be an ARN."
  }
}

variable "kms_key_arn" {
  description = "KMS key of that secret."
  type        = string

  validation {
    condition     = startswith(var.kms_key_arn, "arn:")
    error_message = "kms_key_arn must be an ARN."
  }
}

variable "s3_static_keys" {
  description = "Create a lake-only IAM user and key: the app reads S3 with a static key pair until it takes the default credential chain (decision 0010)."
  type        = bool
  default     = true
}

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) > 0 && length(k) <= 63])
    error_message = "Tags keys must be 1-63 characters."
  }
}
