# What runs inside any of the three clusters, wired once for aws, gcp and azure. For Spark on Kubernetes: the
# namespace, the service account the driver and executors run as (annotated/labelled for the cloud's workload
# identity), the driver's right to manage executor pods, the platform's settings as a Secret, and spark-defaults
# that put them into every pod. Then the one-shot bootstrap and db-migrate jobs, and Airflow after the migration.
# An env root passes only what differs per cloud: the workload identity's annotations and labels, files to mount.
resource "kubernetes_namespace_v1" "this" {
  metadata {
    name = var.namespace
  }
}

resource "kubernetes_service_account_v1" "this" {
  metadata {
    name        = var.service_account
    namespace   = kubernetes_namespace_v1.this.metadata[0].name
    annotations = var.service_account_annotations
    labels      = var.service_account_labels
  }
}

resource "kubernetes_role_v1" "this" {
  metadata {
    name      = "spark-driver"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  rule {
    api_groups = [""]
    resources  = ["pods", "services", "configmaps", "persistentvolumeclaims"]
    verbs      = ["create", "get", "list", "watch", "delete", "deletecollection", "patch", "update"]
  }
}

resource "kubernetes_role_binding_v1" "this" {
  metadata {
    name      = "spark-driver"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.this.metadata[0].name
  }
  subject {
    kind      = "ServiceAccount"
    name      = kubernetes_service_account_v1.this.metadata[0].name
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
}

# Every MARKETPULSE_* setting, plain and secret, in one Secret: pods take it with envFrom / secretKeyRef.
resource "kubernetes_secret_v1" "this" {
  metadata {
    name      = "marketpulse-env"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  data = merge(var.app_env, var.app_secrets)
}

# Files the clients need (e.g. Memorystore's server CA), one Secret per mount path.
resource "kubernetes_secret_v1" "files" {
  for_each = var.mounted_files
  metadata {
    name      = each.key
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  data = each.value.files
}

locals {
  env_names = sort(concat(keys(var.app_env), nonsensitive(keys(var.app_secrets))))
  spark_defaults = join("\n", concat(
    [
      "spark.kubernetes.namespace ${var.namespace}",
      "spark.kubernetes.container.image ${var.spark_image}",
      "spark.kubernetes.authenticate.driver.serviceAccountName ${var.service_account}",
      "spark.kubernetes.executor.serviceAccountName ${var.service_account}",
      "spark.executor.instances ${var.executor_instances}",
    ],
    [for k, v in var.pod_labels : "spark.kubernetes.driver.label.${k} ${v}"],
    [for k, v in var.pod_labels : "spark.kubernetes.executor.label.${k} ${v}"],
    [for name in local.env_names : "spark.kubernetes.driver.secretKeyRef.${name} marketpulse-env:${name}"],
    [for name in local.env_names : "spark.kubernetes.executor.secretKeyRef.${name} marketpulse-env:${name}"],
    [for name, m in var.mounted_files : "spark.kubernetes.driver.secrets.${name} ${m.mount_path}"],
    [for name, m in var.mounted_files : "spark.kubernetes.executor.secrets.${name} ${m.mount_path}"],
  ))
}

resource "kubernetes_config_map_v1" "this" {
  metadata {
    name      = "spark-defaults"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  data = {
    "spark-defaults.conf" = "${local.spark_defaults}\n"
  }
}

# One-shot preparation the cloud cannot do through its API (e.g. the keyspace on Azure's managed Cassandra):
# runs `bootstrap_command` in the project image with the platform's settings, once per apply that changes it.
resource "kubernetes_job_v1" "this" {
  count = length(var.bootstrap_command) > 0 ? 1 : 0
  metadata {
    name      = "marketpulse-bootstrap"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  spec {
    backoff_limit = 6
    template {
      metadata {
        labels = var.pod_labels
      }
      spec {
        service_account_name = kubernetes_service_account_v1.this.metadata[0].name
        restart_policy       = "OnFailure"
        container {
          name    = "bootstrap"
          image   = var.app_image
          command = var.bootstrap_command
          env_from {
            secret_ref {
              name = kubernetes_secret_v1.this.metadata[0].name
            }
          }
        }
      }
    }
  }
  wait_for_completion = true
  timeouts {
    create = "15m"
  }
}

# Schema migrations (PostgreSQL's Alembic revisions, Cassandra's tables: `marketpulse db migrate`) run once per app
# image, before anything that writes starts: Terraform waits for the job, and the env roots make the services and
# Airflow depend on this module. A new image is a new job name, so its revisions run when it is deployed; the
# command is idempotent, so a re-run of the same image changes nothing.
resource "kubernetes_job_v1" "migrate" {
  metadata {
    name      = "marketpulse-db-migrate-${substr(sha1(var.app_image), 0, 10)}"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
  }
  spec {
    backoff_limit = 6
    template {
      metadata {
        labels = var.pod_labels
      }
      spec {
        service_account_name = kubernetes_service_account_v1.this.metadata[0].name
        restart_policy       = "OnFailure"
        container {
          name    = "db-migrate"
          image   = var.app_image
          command = var.migrate_command
          env_from {
            secret_ref {
              name = kubernetes_secret_v1.this.metadata[0].name
            }
          }
          dynamic "volume_mount" {
            for_each = var.mounted_files
            content {
              name       = volume_mount.key
              mount_path = volume_mount.value.mount_path
              read_only  = true
            }
          }
        }
        dynamic "volume" {
          for_each = var.mounted_files
          content {
            name = volume.key
            secret {
              secret_name = kubernetes_secret_v1.files[volume.key].metadata[0].name
            }
          }
        }
      }
    }
  }
  wait_for_completion = true
  timeouts {
    create = "15m"
  }
  # The keyspace (Azure) comes from the bootstrap job; tables need it.
  depends_on = [kubernetes_job_v1.this]
}

# Airflow in the same namespace, as the same service account, with the same settings Secret and files; started
# once the schema migration has completed.
module "airflow" {
  source          = "../../airflow/kubernetes"
  namespace       = kubernetes_namespace_v1.this.metadata[0].name
  service_account = kubernetes_service_account_v1.this.metadata[0].name
  env_secret      = kubernetes_secret_v1.this.metadata[0].name
  mounted_files   = { for name, m in var.mounted_files : name => m.mount_path }
  pod_labels      = var.pod_labels
  image           = var.airflow_image
  db_host         = var.db_host
  db_user         = "marketpulse" # the app's role (reporting_db/roles), which owns Airflow's database too
  db_password     = var.db_password
  depends_on      = [kubernetes_job_v1.migrate]
}
