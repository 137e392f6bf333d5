# Amazon RDS for PostgreSQL: the reporting store (Power BI star schema, API keys, stream-restart records) and
# Airflow's metadata. Private subnets only, TLS forced by the parameter group, encrypted, deletion-protected.
resource "aws_db_subnet_group" "this" {
  name       = "${var.name}-reporting"
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_db_parameter_group" "this" {
  name   = "${var.name}-reporting"
  family = "postgres${var.engine_version}"
  tags   = var.tags

  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
}

resource "aws_db_instance" "this" {
  identifier                 = "${var.name}-reporting"
  engine                     = "postgres"
  engine_version             = var.engine_version
  instance_class             = var.instance_class
  allocated_storage          = var.storage_gb
  max_allocated_storage      = var.storage_gb * 4
  storage_type               = "gp3"
  storage_encrypted          = true
  username                   = var.admin_user
  password                   = var.admin_password
  db_subnet_group_name       = aws_db_subnet_group.this.name
  vpc_security_group_ids     = var.security_group_ids
  parameter_group_name       = aws_db_parameter_group.this.name
  multi_az                   = var.multi_az
  publicly_accessible        = false
  deletion_protection        = true
  skip_final_snapshot        = false
  final_snapshot_identifier  = "${var.name}-reporting-final"
  backup_retention_period    = 7
  auto_minor_version_upgrade = true
  copy_tags_to_snapshot      = true
  tags                       = var.tags
}
data "aws_region" "current" {}
