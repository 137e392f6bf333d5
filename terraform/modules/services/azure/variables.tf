variable "name" {
  description = "Name prefix of every resource (e.g. marketpulse-prod)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,23}$", var.name))
    error_message = "name must be 3-24 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "resource_group_name" {
  description = "Resource group of the platform (modules/network/azure)."
  type        = string

  validation {
    condition     = length(var.resource_group_name) > 0
    error_message = "resource_group_name must be set."
  }
}

variable "location" {
  description = "Azure region, e.g. westeurope."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+$", var.location))
    error_message = "location must be an Azure region name such as westeurope."
  }
}

variable "subnet_id" {
  description = "Subnet delegated to Microsoft.App/environments."
  type        = string

  validation {
    condition     = startswith(var.subnet_id, "/subscriptions/")
    error_message = "subnet_id must be an Azure resource id."
  }
}

variable "identity_id" {
  description = "User-assigned identity the apps run as."
  type        = string

  validation {
    condition     = startswith(var.identity_id, "/subscriptions/")
    error_message = "identity_id must be an Azure resource id."
  }
}

variable "image" {
  description = "MarketPulse container image (e.g. in Azure Container Registry)."
  type        = string

  validation {
    condition     = length(var.image) > 0
    error_message = "image must be set."
  }
}

variable "services" {
  description = "Service name => args, port, public ingress and replicas."
  type = map(object({
    args         = list(string)
    port         = number
    public       = bool
    min_replicas = number
    max_replicas = number
  }))
  default = {
    ingest    = { args = ["ingest", "live", "alpaca"], port = 9108, public = false, min_replicas = 1, max_replicas = 1 }
    api       = { args = ["serve", "api"], port = 8000, public = true, min_replicas = 1, max_replicas = 4 }
    dashboard = { args = ["serve", "dashboard"], port = 8050, public = true, min_replicas = 0, max_replicas = 2 }
  }

  validation {
    condition     = alltrue([for s in values(var.services) : s.min_replicas <= s.max_replicas])
    error_message = "min_replicas must not exceed max_replicas."
  }
}

variable "app_env" {
  description = "MARKETPULSE_* variables of every container."
  type        = map(string)

  validation {
    condition     = alltrue([for k in keys(var.app_env) : startswith(k, "MARKETPULSE_")])
    error_message = "app_env holds only MARKETPULSE_* variables."
  }
}

variable "identity_principal_id" {
  description = "Principal (object) id of identity_id (gets AcrPull on the registry)."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f-]{36}$", var.identity_principal_id))
    error_message = "identity_principal_id must be a GUID."
  }
}

variable "registry_server" {
  description = "Login server of the container registry (e.g. acme.azurecr.io)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]+\\.azurecr\\.io$", var.registry_server))
    error_message = "registry_server must be an ACR login server (<name>.azurecr.io)."
  }
}

variable "registry_id" {
  description = "Resource id of that registry (scope of AcrPull)."
  type        = string

  validation {
    condition     = can(regex("/registries/", var.registry_id))
    error_message = "registry_id must be a container registry id."
  }
}

variable "secret_ids" {
  description = "Environment variable => versionless Key Vault secret id (modules/secrets/azure)."
  type        = map(string)

  validation {
    condition     = alltrue([for k in keys(var.secret_ids) : startswith(k, "MARKETPULSE_")])
    error_message = "secret_ids holds only MARKETPULSE_* variables."
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
