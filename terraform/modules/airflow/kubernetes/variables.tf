variable "image" {
  description = "The project's Airflow image, repository:tag (Airflow 3.3.2 + marketpulse venv + DAGs)."
  type        = string

  validation {
    condition     = can(regex("^[^:]+:[^:]+$", var.image))
    error_message = "image must be repository:tag (no port in the registry host)."
  }
}

variable "airflow_version" {
  description = "Airflow version inside the image (Settings.airflow.version)."
  type        = string
  default     = "3.3.2"

  validation {
    condition     = can(regex("^3\\.[0-9]+\\.[0-9]+$", var.airflow_version))
    error_message = "airflow_version must be an Airflow 3.x release: the DAGs use airflow.sdk."
  }
}

variable "chart_version" {
  description = "Version of the official apache-airflow/airflow chart."
  type        = string
  default     = "1.22.0"

  validation {
    condition     = can(regex("^1\\.(1[6-9]|[2-9][0-9])\\.[0-9]+$", var.chart_version))
    error_message = "chart_version must be 1.16.0 or newer (the chart versions that run Airflow 3)."
  }
}

variable "env_secret" {
  description = "Secret with every MARKETPULSE_* setting (spark_runtime/kubernetes)."
  type        = string

  validation {
    condition     = length(var.env_secret) > 0
    error_message = "env_secret must be set."
  }
}

variable "db_host" {
  description = "Reporting PostgreSQL host."
  type        = string

  validation {
    condition     = length(var.db_host) > 0
    error_message = "db_host must be set."
  }
}

variable "db_port" {
  description = "PostgreSQL port."
  type        = number
  default     = 5432

  validation {
    condition     = var.db_port > 0 && var.db_port < 65536
    error_message = "db_port must be a TCP port."
  }
}

variable "db_name" {
  description = "Airflow's metadata database (Settings.airflow.database)."
  type        = string
  default     = "airflow"

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]*$", var.db_name))
    error_message = "db_name must be a lowercase identifier."
  }
}

variable "db_user" {
  description = "Role Airflow connects as."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9_]*$", var.db_user))
    error_message = "db_user must be a lowercase identifier."
  }
}

variable "db_password" {
  description = "Password of db_user (letters and digits: it goes into a URL)."
  type        = string
  sensitive   = true

  validation {
    condition     = can(regex("^[A-Za-z0-9]{16,}$", var.db_password))
    error_message = "db_password must be 16+ letters or digits."
  }
}

variable "spark_defaults_config_map" {
  description = "ConfigMap holding spark-defaults.conf (spark_runtime/kubernetes)."
  type        = string
  default     = "spark-defaults"

  validation {
    condition     = can(regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", var.spark_defaults_config_map))
    error_message = "spark_defaults_config_map must be a DNS label."
  }
}

variable "mounted_files" {
  description = "Secret name => mount path of files every Airflow pod mounts (spark_runtime/kubernetes mounted_files)."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for p in values(var.mounted_files) : startswith(p, "/")])
    error_message = "Mount paths must be absolute."
  }
}

variable "pod_labels" {
  description = "Labels every Airflow pod carries."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.pod_labels) : length(k) > 0])
    error_message = "Label keys must not be empty."
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

