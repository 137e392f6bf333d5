variable "keyspace" {
  description = "Keyspace of the platform's tables (Settings.cassandra.keyspace)."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{0,47}$", var.keyspace))
    error_message = "keyspace must be 1-48 lowercase letters, digits or underscores, starting with a letter."
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
