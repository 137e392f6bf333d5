variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "project" {
  description = "GCP project id."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project))
    error_message = "project must be a GCP project id."
  }
}

variable "values" {
  description = "MARKETPULSE_* variable name => secret value."
  type        = map(string)
  sensitive   = true

  validation {
    condition     = alltrue([for k in keys(var.values) : can(regex("^MARKETPULSE_[A-Z0-9_]+$", k))])
    error_message = "values holds only MARKETPULSE_* names."
  }
}

variable "reader_email" {
  description = "Service account allowed to read the secrets (the workloads')."
  type        = string

  validation {
    condition     = endswith(var.reader_email, ".iam.gserviceaccount.com")
    error_message = "reader_email must be a service account e-mail."
  }
}

variable "labels" {
  description = "Labels added to every resource that takes them."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.labels : can(regex("^[a-z][a-z0-9_-]{0,62}$", k))])
    error_message = "Label keys must be lowercase, start with a letter, at most 63 characters."
  }
}
