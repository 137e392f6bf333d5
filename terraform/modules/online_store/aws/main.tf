# ElastiCache for Redis (OSS engine), TLS, one replica with automatic failover.
resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
  tags       = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "MarketPulse online store: latest state per symbol, pub/sub fan-out"
  engine                     = "redis"
  engine_version             = var.engine_version
  node_type                  = var.node_type
  num_cache_clusters         = 2
  automatic_failover_enabled = true
  port                       = 6379
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = var.security_group_ids
  transit_encryption_enabled = true
  auth_token                 = var.auth_token
  at_rest_encryption_enabled = true
  tags                       = var.tags
}
