variable "app_user" {
  description = "Role the application connects as (owner of its databases)."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{2,30}$", var.app_user))
    error_message = "app_user must be a lowercase identifier."
  }
}

variable "app_password" {
  description = "Password of app_user."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.app_password) >= 16
    error_message = "app_password must be at least 16 characters."
  }
}

variable "powerbi_user" {
  description = "Read-only role Power BI connects as."
  type        = string
  default     = "powerbi"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]{2,30}$", var.powerbi_user))
    error_message = "powerbi_user must be a lowercase identifier."
  }
}

variable "powerbi_password" {
  description = "Password of powerbi_user."
  type        = string
  sensitive   = true

  validation {
    condition     = length(var.powerbi_password) >= 16
    error_message = "powerbi_password must be at least 16 characters."
  }
}

variable "databases" {
  description = "Databases to create, owned by app_user; the first is the reporting one Power BI reads (Settings.postgres.database, then Settings.airflow.database)."
  type        = list(string)
  default     = ["marketpulse", "airflow"]

  validation {
    condition     = length(var.databases) >= 1 && alltrue([for d in var.databases : can(regex("^[a-z][a-z0-9_]{0,62}$", d))])
    error_message = "databases must be one or more lowercase identifiers."
  }
}
