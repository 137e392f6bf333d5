variable "resource_group_name" {
  description = "Resource group of the platform."
  type        = string

  validation {
    condition     = length(var.resource_group_name) > 0
    error_message = "resource_group_name must be set."
  }
}

variable "location" {
  description = "Azure region (e.g. westeurope)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be an Azure region name such as westeurope."
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

variable "vault_name" {
  description = "Globally unique Key Vault name."
  type        = string

  validation {
    condition     = can(regex("^[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$", var.vault_name))
    error_message = "vault_name must be 3-24 letters, digits or hyphens, starting with a letter."
  }
}

variable "reader_principal_id" {
  description = "Principal (object) id of the app's managed identity, which reads the secrets."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f-]{36}$", var.reader_principal_id))
    error_message = "reader_principal_id must be a GUID."
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
