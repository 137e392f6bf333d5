variable "names" {
  description = "Names of the passwords to generate (e.g. postgres_admin, postgres_app, powerbi, airflow_admin)."
  type        = set(string)

  validation {
    condition     = alltrue([for n in var.names : can(regex("^[a-z][a-z0-9_]{1,40}$", n))])
    error_message = "names must be lowercase identifiers (letters, digits, underscores)."
  }
}

variable "length" {
  description = "Characters per password (letters and digits: 32 gives about 190 bits)."
  type        = number
  default     = 32

  validation {
    condition     = var.length >= 24 && var.length <= 64
    error_message = "length must be 24-64."
  }
}
