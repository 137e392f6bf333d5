# Airflow 3 from the official Apache Airflow Helm chart, running the project's Airflow image (Airflow 3.3.2 +
# the project's venv at the path the DAGs' external_python uses + the DAG files), with its metadata in the
# reporting server's `airflow` database and every MARKETPULSE_* setting from the platform's Secret.
resource "kubernetes_secret_v1" "this" {
  metadata {
    name      = "airflow-metadata"
    namespace = var.namespace
  }
  data = {
    # The chart reads the SQLAlchemy URL from the key `connection`; the generated passwords are letters and
    # digits only, so they need no URL quoting.
    connection = "postgresql+psycopg2://${var.db_user}:${var.db_password}@${var.db_host}:${var.db_port}/${var.db_name}?sslmode=require"
  }
}

resource "helm_release" "this" {
  name       = "airflow"
  namespace  = var.namespace
  repository = "https://airflow.apache.org"
  chart      = "airflow"
  version    = var.chart_version
  timeout    = 900

  values = [yamlencode({
    defaultAirflowRepository = split(":", var.image)[0]
    defaultAirflowTag        = split(":", var.image)[1]
    airflowVersion           = var.airflow_version
    executor                 = "LocalExecutor"
    data                     = { metadataSecretName = kubernetes_secret_v1.this.metadata[0].name }
    postgresql               = { enabled = false }
    redis                    = { enabled = false }
    # DAG files are baked into the image: no git-sync, no DAG volume.
    dags         = { persistence = { enabled = false }, gitSync = { enabled = false } }
    extraEnvFrom = yamlencode([{ secretRef = { name = var.env_secret } }])
    # The chart has one service account per component; with the LocalExecutor the tasks (spark-submit, the
    # project's code) run in the scheduler, which needs the workload identity and the Spark driver's RBAC.
    scheduler    = { serviceAccount = { create = false, name = var.service_account } }
    dagProcessor = { serviceAccount = { create = false, name = var.service_account } }
    apiServer    = { serviceAccount = { create = false, name = var.service_account } }
    triggerer    = { serviceAccount = { create = false, name = var.service_account } }
    labels       = var.pod_labels
    # spark-submit in Airflow's pods reads spark-defaults (image, namespace, service account, env Secret refs).
    env = [{ name = "SPARK_CONF_DIR", value = "/opt/marketpulse/spark-conf" }]
    volumes = concat(
      [{ name = "spark-defaults", configMap = { name = var.spark_defaults_config_map } }],
      [for name, path in var.mounted_files : { name = name, secret = { secretName = name } }],
    )
    volumeMounts = concat(
      [{ name = "spark-defaults", mountPath = "/opt/marketpulse/spark-conf", readOnly = true }],
      [for name, path in var.mounted_files : { name = name, mountPath = path, readOnly = true }],
    )
  })]
}
