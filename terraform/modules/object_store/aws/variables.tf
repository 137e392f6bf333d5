variable "buckets" {
  description = "Lake area (raw, features, models, checkpoints) => globally unique bucket name; usually module.catalog.buckets."
  type        = map(string)

  validation {
    condition     = alltrue([for area in ["raw", "features", "models", "checkpoints"] : contains(keys(var.buckets), area)])
    error_message = "buckets must name the raw, features, models and checkpoints areas."
  }
}

variable "force_destroy" {
  description = "Let destroy delete non-empty buckets (never in production)."
  type        = bool
  default     = false
}

variable "raw_retention_days" {
  description = "Days raw landing files are kept."
  type        = number
  default     = 90

  validation {
    condition     = var.raw_retention_days >= 1
    error_message = "raw_retention_days must be at least 1."
  }
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
