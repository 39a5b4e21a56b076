#!/bin/sh
# HEALTHCHECK of singa-redis: an authenticated PING answered with PONG.
REDISCLI_AUTH=$(cat /run/singa-redis/password) && export REDISCLI_AUTH \
    && [ "$(redis-cli -p 6379 ping 2>/dev/null)" = PONG ]
