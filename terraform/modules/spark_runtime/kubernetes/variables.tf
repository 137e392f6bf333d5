variable "spark_image" {
  description = "The project's Spark 4.1.1 image (Spark + the marketpulse wheel + connector jars)."
  type        = string

  validation {
    condition     = length(var.spark_image) > 0
    error_message = "spark_image must be set."
  }
}

variable "app_image" {
  description = "The project's application image (runs the bootstrap command)."
  type        = string

  validation {
    condition     = length(var.app_image) > 0
    error_message = "app_image must be set."
  }
}

variable "airflow_image" {
  description = "The project's Airflow image, repository:tag (Airflow + the marketpulse venv + DAGs)."
  type        = string

  validation {
    condition     = can(regex("^[^:]+:[^:]+$", var.airflow_image))
    error_message = "airflow_image must be repository:tag (no port in the registry host)."
  }
}

variable "db_host" {
  description = "Reporting PostgreSQL host (Airflow's metadata database lives there)."
  type        = string

  validation {
    condition     = length(var.db_host) > 0
    error_message = "db_host must be set."
  }
}

variable "db_password" {
  description = "Password of the app's PostgreSQL role, which Airflow connects as (letters and digits: it goes into a URL)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9]{16,}$", var.db_password))
    error_message = "db_password must be 16+ letters or digits."
  }
}

variable "app_env" {
  description = "Plain MARKETPULSE_* settings."
  type        = map(string)

  validation {
    condition     = alltrue([for k in keys(var.app_env) : startswith(k, "MARKETPULSE_")])
    error_message = "app_env holds only MARKETPULSE_* variables."
  }
}

variable "app_secrets" {
  description = "Secret MARKETPULSE_* settings."
  type        = map(string)
  sensitive   = true

  validation {
    condition     = alltrue([for k in keys(var.app_secrets) : startswith(k, "MARKETPULSE_")])
    error_message = "app_secrets holds only MARKETPULSE_* variables."
  }
}

variable "service_account_annotations" {
  description = "Annotations of the service account (GKE: iam.gke.io/gcp-service-account; AKS: azure.workload.identity/client-id)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.service_account_annotations) : length(k) > 0])
    error_message = "Annotation keys must not be empty."
  }
}

variable "service_account_labels" {
  description = "Labels of the service account."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.service_account_labels) : length(k) > 0])
    error_message = "Label keys must not be empty."
  }
}

variable "pod_labels" {
  description = "Labels every pod carries (AKS workload identity needs azure.workload.identity/use=true)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.pod_labels) : length(k) > 0])
    error_message = "Label keys must not be empty."
  }
}

variable "executor_instances" {
  description = "Executors per Spark application."
  type        = number
  default     = 2

  validation {
    condition     = var.executor_instances >= 1
    error_message = "executor_instances must be at least 1."
  }
}

variable "mounted_files" {
  description = "Secret name => mount path and file name => content, mounted into every Spark and Airflow pod."
  type = map(object({
    mount_path = string
    files      = map(string)
  }))
  default = {}

  validation {
    condition     = alltrue([for m in values(var.mounted_files) : startswith(m.mount_path, "/")])
    error_message = "mount_path must be absolute."
  }
}

variable "bootstrap_command" {
  description = "Command run once in the app image with the platform's settings (empty: no job)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.bootstrap_command : length(c) > 0])
    error_message = "bootstrap_command must not contain empty strings."
  }
}

variable "migrate_command" {
  description = "Command of the one-shot schema-migration job, run in the app image before the services start."
  type        = list(string)
  default     = ["marketpulse", "db", "migrate"]

  validation {
    condition     = length(var.migrate_command) > 0 && alltrue([for c in var.migrate_command : length(c) > 0])
    error_message = "migrate_command must be a non-empty list of non-empty strings."
  }
}

variable "namespace" {
  description = "Namespace of the platform's workloads."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.namespace))
    error_message = "namespace must be a DNS label."
  }
}

variable "service_account" {
  description = "Kubernetes service account the workloads run as."
  type        = string
  default     = "marketpulse"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.service_account))
    error_message = "service_account must be a DNS label."
  }
}

