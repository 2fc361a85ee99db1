#!/bin/bash
# Sourced (not executed: keep it non-executable) by the mysql image on first start: replication user and the least-privilege monitoring user.

monitor_pw="$(cat /run/secrets/mysql_monitor_password)"
repl_pw="$(cat /run/secrets/mysql_replication_password)"
docker_process_sql <<SQL
CREATE USER 'repl'@'%' IDENTIFIED BY '${repl_pw}';
GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%';
CREATE USER 'headroom_monitor'@'%' IDENTIFIED BY '${monitor_pw}' WITH MAX_USER_CONNECTIONS 10;
GRANT PROCESS, REPLICATION CLIENT, SHOW VIEW ON *.* TO 'headroom_monitor'@'%';
GRANT SELECT ON performance_schema.* TO 'headroom_monitor'@'%';
SQL
