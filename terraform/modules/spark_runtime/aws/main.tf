# EMR Serverless: a Spark application the market and sentiment jobs are submitted to (spark-submit job runs).
resource "aws_emrserverless_application" "this" {
  name          = "${var.name}-spark"
  release_label = var.release_label
  type          = "spark"

  maximum_capacity {
    cpu    = "${var.max_vcpu} vCPU"
    memory = "${var.max_vcpu * 4} GB"
  }

  auto_start_configuration {
    enabled = true
  }

  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = 15
  }

  network_configuration {
    subnet_ids         = var.subnet_ids
    security_group_ids = var.security_group_ids
  }

  tags = var.tags
}
