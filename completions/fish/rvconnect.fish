# fish completion for rvconnect (rendezvous). Options must match 'rvconnect --help'
# (tests/docs/test_docs_sync.py checks it). Installed in fish/vendor_completions.d.

complete -c rvconnect -f

# The NAMEs of the user's names file, offered for the argument.
function __rvconnect_names
    set --local dir $XDG_CONFIG_HOME
    test -n "$dir"; or set dir $HOME/.config
    test -r $dir/rendezvous/names; and awk '!/^[[:space:]]*(#|$)/ { print $1 }' $dir/rendezvous/names
end
complete -c rvconnect -n 'not string match -q -- "-*" (commandline -ct)' -a '(__rvconnect_names)' -d 'Name in the names file'
complete -c rvconnect -s h -l help -d 'Print the help and exit'
complete -c rvconnect -s V -l version -d 'Print the version and exit'
complete -c rvconnect -s c -l config -r -F -d 'Read options from a file of name = value lines'
complete -c rvconnect -l log-level -x -a 'error warn info debug' -d 'Log level (default warn)'
complete -c rvconnect -s s -l server -x -d 'A rendezvous server, HOST:PORT (several: nodes tried in turn)'
complete -c rvconnect -s u -l uuid -x -a '(__rvconnect_names)' -d 'The hidden server to reach: a UUID or a NAME (or as the argument)'
complete -c rvconnect -s l -l listen -x -d 'Accept local TCP connections on [HOST:]PORT and tunnel each'
complete -c rvconnect -l ca-file -r -F -d 'Trust this CA (or self-signed certificate)'
complete -c rvconnect -l pin -x -d 'Require the server key to match this SPKI pin (sha256//BASE64)'
complete -c rvconnect -l server-name -x -a '(__fish_print_hostnames)' -d 'Name the certificate must carry, and SNI'
complete -c rvconnect -l connect-timeout -x -d 'Deadline for connecting and the TLS handshake, over all addresses (default 10)'
complete -c rvconnect -l try-timeout -x -d 'Deadline for connecting and the TLS handshake at one address (default 3)'
complete -c rvconnect -l answer-timeout -x -d "Deadline for the server's answer (default 30)"
complete -c rvconnect -l names -r -F -d 'The names file (NAME UUID [SERVER:PORT] lines)'
complete -c rvconnect -l client-keys -r -F -d 'UUID KEY lines: the key to present for a UUID'
