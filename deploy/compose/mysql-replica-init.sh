#!/bin/bash
# Sourced (not executed: keep it non-executable) by the mysql image on first start: replicate from mysql-primary with GTID auto-positioning.
# Users (including headroom_monitor) arrive through replication.

repl_pw="$(cat /run/secrets/mysql_replication_password)"
docker_process_sql <<SQL
CHANGE REPLICATION SOURCE TO SOURCE_HOST='mysql-primary', SOURCE_PORT=3306, SOURCE_USER='repl',
  SOURCE_PASSWORD='${repl_pw}', SOURCE_AUTO_POSITION=1, GET_SOURCE_PUBLIC_KEY=1, SOURCE_CONNECT_RETRY=5;
START REPLICA;
SQL
