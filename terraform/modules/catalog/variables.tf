variable "bucket_prefix" {
  description = "Buckets are named <bucket_prefix>-<area> (Settings.s3.bucket_prefix)."
  type        = string

  validation {
    # S3 bucket rules leave 63 characters; the longest area suffix is "-checkpoints" (12).
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,49}[a-z0-9]$", var.bucket_prefix))
    error_message = "bucket_prefix must be 3-51 lowercase letters, digits or hyphens, not starting or ending with a hyphen."
  }
}

variable "topic_prefix" {
  description = "Prepended to every topic name; empty in real environments (the app uses the bare names), set by tests to isolate runs."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[A-Za-z0-9._-]*$", var.topic_prefix))
    error_message = "topic_prefix may hold only letters, digits, '.', '_' and '-' (Kafka topic characters)."
  }
}
