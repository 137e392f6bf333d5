variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
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

variable "tags" {
  description = "Tags added to every resource."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) > 0 && length(k) <= 63])
    error_message = "Tags keys must be 1-63 characters."
  }
}
