// The Vue test page: the specification's Vue example written with the
// composables (render function, so no template compiler is needed).
import { createApp, defineComponent, h } from "vue";
import { brainWs, useChannel, useConnectionState } from "@brain/ws-client/vue";
import { testClient } from "../common.js";

const MissionDashboard = defineComponent({
  setup() {
    const state = useConnectionState();
    const missions = useChannel("missions", { limit: 50 });
    return () =>
      h("div", [
        h("h2", ["Status: ", h("span", { id: "state" }, state.value)]),
        h("p", [
          "Subscription: ",
          h("span", { id: "status" }, missions.value.status),
          " recovered: ",
          h("span", { id: "recovered" }, String(missions.value.subscribed?.recovered)),
        ]),
        h("ul", { id: "missions" }, missions.value.events.map((e, i) => h("li", { key: `${i}:${e.offset}` }, `${e.type}: ${e.data.mission_id}`))),
      ]);
  },
});

createApp(MissionDashboard).use(brainWs(testClient())).mount("#app");
