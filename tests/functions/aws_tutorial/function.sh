# AWS's custom-runtime tutorial handler, unchanged (MIT-0, see NOTICE).
function handler () {
  EVENT_DATA=$1

  RESPONSE="Echoing request: '$EVENT_DATA'"

  echo $RESPONSE
}
