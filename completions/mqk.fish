# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_mqk_global_optspecs
    string join \n h/help V/version
end

function __fish_mqk_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_mqk_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_mqk_using_subcommand
    set -l cmd (__fish_mqk_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c mqk -n "__fish_mqk_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqk -n "__fish_mqk_needs_command" -s V -l version -d 'Print version'
complete -c mqk -n "__fish_mqk_needs_command" -f -a "pub" -d 'Publish messages to an MQTT topic or a Kafka topic'
complete -c mqk -n "__fish_mqk_needs_command" -f -a "sub" -d 'Print messages from MQTT filters or Kafka topics'
complete -c mqk -n "__fish_mqk_needs_command" -f -a "bridge" -d 'Forward every message of an MQTT filter to a Kafka topic, at least once and in order'
complete -c mqk -n "__fish_mqk_needs_command" -f -a "dev" -d 'Run a throwaway MQTT broker and Kafka cluster in this process'
complete -c mqk -n "__fish_mqk_needs_command" -f -a "completions" -d 'Print a shell completion script'
complete -c mqk -n "__fish_mqk_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s m -l message -d 'Send TEXT as one message (\'\' is a zero-byte message)' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s f -l file -d 'Send the whole file as one message, its bytes exactly' -r -F
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l format -d 'Read stdin as records: json is one envelope per line (see README)' -r -f -a "json\t''"
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s q -l qos -d 'MQTT QoS: 0, 1 or 2' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s k -l key -d 'Kafka record key for every message' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l inflight -d 'Messages sent but not yet acknowledged, at most' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l delivery-timeout -d 'Give up on a Kafka record not acknowledged after this long' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l reconnects -d 'Attempts in a row to reconnect after the MQTT connection is lost, a second apart; a successful reconnect allows as many again. 0 fails at the first loss' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s V -l mqtt-version -d 'MQTT protocol version: 5 or 3.1.1' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s i -l id -d 'Client id [default: generated; for bridge, derived from the mapping]' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l keep-alive -d 'Keep-alive interval' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l connect-timeout -d 'Give up connecting after this long' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s u -l username -d 'User name' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l password -d 'Password (or set MQK_PASSWORD)' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l cafile -d 'PEM file of CA certificates for mqtts:// [default: the system\'s]' -r -F
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s X -d 'A librdkafka property, as KEY=VALUE; repeatable, applied last' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l metadata-timeout -d 'How long to wait for cluster metadata before calling the cluster unreachable, and for the answer to --create-topic' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l partitions -d 'Partitions of a topic created by --create-topic' -r
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s l -l lines -d 'Send each stdin line as a message (LF or CRLF removed, nothing added)'
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s s -l stdin -d 'Send all of stdin as one message'
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s r -l retain -d 'Set the MQTT retain flag'
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l quiet -d 'No summary line on stderr'
complete -c mqk -n "__fish_mqk_using_subcommand pub" -l create-topic -d 'Create the Kafka topic if it does not exist (CreateTopics API)'
complete -c mqk -n "__fish_mqk_using_subcommand pub" -s h -l help -d 'Print help'
complete -c mqk -n "__fish_mqk_using_subcommand sub" -s q -l qos -d 'MQTT subscription QoS: 0, 1 or 2' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -s n -l count -d 'Exit after N messages' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l timeout -d 'Exit with code 7 when nothing arrives for this long' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l format -d 'Output: text (payload and a newline), raw (payload bytes only) or json (envelopes)' -r -f -a "text\t'The payload followed by a newline'
raw\t'The payload bytes exactly, nothing added'
json\t'One envelope per line (see the README\'s record envelope)'"
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l from -d 'Where to start in every Kafka partition' -r -f -a "beginning\t'The oldest record still stored'
end\t'Only records produced after `ready`'"
complete -c mqk -n "__fish_mqk_using_subcommand sub" -s V -l mqtt-version -d 'MQTT protocol version: 5 or 3.1.1' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -s i -l id -d 'Client id [default: generated; for bridge, derived from the mapping]' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l keep-alive -d 'Keep-alive interval' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l connect-timeout -d 'Give up connecting after this long' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -s u -l username -d 'User name' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l password -d 'Password (or set MQK_PASSWORD)' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l cafile -d 'PEM file of CA certificates for mqtts:// [default: the system\'s]' -r -F
complete -c mqk -n "__fish_mqk_using_subcommand sub" -s X -d 'A librdkafka property, as KEY=VALUE; repeatable, applied last' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l metadata-timeout -d 'How long to wait for cluster metadata before calling the cluster unreachable, and for the answer to --create-topic' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l partitions -d 'Partitions of a topic created by --create-topic' -r
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l exit -d 'Exit once every Kafka partition has been read to its end'
complete -c mqk -n "__fish_mqk_using_subcommand sub" -l create-topic -d 'Create the Kafka topic if it does not exist (CreateTopics API)'
complete -c mqk -n "__fish_mqk_using_subcommand sub" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -s q -l qos -d 'MQTT subscription QoS: 0 or 1' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -l session-expiry -d 'How long an MQTT 5 broker keeps the bridge\'s session while it is away ("never" to keep it forever) [default: never]' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -l inflight -d 'Messages waiting for Kafka, at most: beyond that the bridge stops reading from the broker. Also the receive maximum announced to an MQTT 5 broker' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -s V -l mqtt-version -d 'MQTT protocol version: 5 or 3.1.1' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -s i -l id -d 'Client id [default: generated; for bridge, derived from the mapping]' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -l keep-alive -d 'Keep-alive interval' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -l connect-timeout -d 'Give up connecting after this long' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -s u -l username -d 'User name' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -l password -d 'Password (or set MQK_PASSWORD)' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -l cafile -d 'PEM file of CA certificates for mqtts:// [default: the system\'s]' -r -F
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -s X -d 'A librdkafka property, as KEY=VALUE; repeatable, applied last' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -l metadata-timeout -d 'How long to wait for cluster metadata before calling the cluster unreachable, and for the answer to --create-topic' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -l partitions -d 'Partitions of a topic created by --create-topic' -r
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -l create-topic -d 'Create the Kafka topic if it does not exist (CreateTopics API)'
complete -c mqk -n "__fish_mqk_using_subcommand bridge" -s h -l help -d 'Print help'
complete -c mqk -n "__fish_mqk_using_subcommand dev" -l topic -d 'Create a Kafka topic, as NAME or NAME:PARTITIONS; repeatable' -r
complete -c mqk -n "__fish_mqk_using_subcommand dev" -l mqtt-port -d 'Port of the MQTT 5 listener [default: a free one]' -r
complete -c mqk -n "__fish_mqk_using_subcommand dev" -l mqtt311-port -d 'Port of the MQTT 3.1.1 listener [default: a free one]' -r
complete -c mqk -n "__fish_mqk_using_subcommand dev" -s h -l help -d 'Print help'
complete -c mqk -n "__fish_mqk_using_subcommand completions" -s h -l help -d 'Print help'
complete -c mqk -n "__fish_mqk_using_subcommand help; and not __fish_seen_subcommand_from pub sub bridge dev completions help" -f -a "pub" -d 'Publish messages to an MQTT topic or a Kafka topic'
complete -c mqk -n "__fish_mqk_using_subcommand help; and not __fish_seen_subcommand_from pub sub bridge dev completions help" -f -a "sub" -d 'Print messages from MQTT filters or Kafka topics'
complete -c mqk -n "__fish_mqk_using_subcommand help; and not __fish_seen_subcommand_from pub sub bridge dev completions help" -f -a "bridge" -d 'Forward every message of an MQTT filter to a Kafka topic, at least once and in order'
complete -c mqk -n "__fish_mqk_using_subcommand help; and not __fish_seen_subcommand_from pub sub bridge dev completions help" -f -a "dev" -d 'Run a throwaway MQTT broker and Kafka cluster in this process'
complete -c mqk -n "__fish_mqk_using_subcommand help; and not __fish_seen_subcommand_from pub sub bridge dev completions help" -f -a "completions" -d 'Print a shell completion script'
complete -c mqk -n "__fish_mqk_using_subcommand help; and not __fish_seen_subcommand_from pub sub bridge dev completions help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
